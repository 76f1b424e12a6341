import { describe } from "vitest";
import { simulate } from "../sim/suite.js";

describe("the fault simulator", () => simulate("stop-first", "dnf"));
