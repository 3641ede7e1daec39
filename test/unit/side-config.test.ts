import { describe, expect, it } from "vitest";
import { startingOnFreePorts } from "../../src/run/side-config.js";

describe("the progress line of test's and bench's own run", () => {
  it("names the backend only when the run has one (a project whose envoy.yaml sends nothing off the machine has none)", () => {
    expect(startingOnFreePorts("Envoy 1.40.0", [{ name: "envoy" }])).toBe("starting Envoy 1.40.0 on free ports");
    expect(startingOnFreePorts("Envoy 1.40.0", [{ name: "backend" }, { name: "envoy" }])).toBe("starting Envoy 1.40.0 and the backend on free ports");
  });
});
