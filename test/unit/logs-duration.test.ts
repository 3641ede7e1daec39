import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { parseDuration } from "../../src/commands/logs.js";

describe("parseDuration", () => {
  it("turns durations into milliseconds", () => {
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("5m")).toBe(300_000);
    expect(parseDuration("2h")).toBe(7_200_000);
    expect(parseDuration("1d")).toBe(86_400_000);
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("1.5h")).toBe(5_400_000);
    expect(parseDuration("0s")).toBe(0);
    expect(parseDuration(" 90s ")).toBe(90_000);
  });

  for (const bad of ["5", "abc", "", "-5m", "5 m", "5min", "1e3s", "m"]) {
    it(`refuses ${JSON.stringify(bad)} as a usage error`, () => {
      let error: unknown;
      try {
        parseDuration(bad);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(UsageError);
      expect((error as UsageError).exitCode).toBe(2);
      expect((error as UsageError).message).toBe(`--since ${JSON.stringify(bad)}: use a duration such as 30s, 5m, 2h or 1d`);
    });
  }
});
