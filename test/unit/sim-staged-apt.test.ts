import { describe } from "vitest";
import { simulate } from "../sim/suite.js";

describe("the fault simulator", () => simulate("staged", "apt", false));
