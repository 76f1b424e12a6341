import { describe } from "vitest";
import { simulate } from "../sim/suite.js";

// a MAJOR.MINOR jump by planned container restarts: stopped, upgraded, started again in order; every crash recovered
describe("the fault simulator", () => simulate("staged", "apt", undefined, true));
