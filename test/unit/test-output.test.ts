import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { testOutputParser } from "../../src/build/test-output.js";

// Real `cargo test` output (Rust 1.95) of the auth template with one failing and two ignored tests added.
const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/${name}`, import.meta.url), "utf8")
    .replace(/\n$/, "")
    .split("\n");

describe("the libtest parser (cargo test)", () => {
  const read = (verbose: boolean) => {
    const parser = testOutputParser("libtest");
    const shown: string[] = [];
    for (const line of fixture("cargo-test.stderr")) shown.push(parser.stderr(line, verbose) ?? "");
    for (const line of fixture("cargo-test.stdout")) shown.push(parser.stdout(line, verbose) ?? "");
    return { outcomes: parser.outcomes(), shown: shown.join("") };
  };

  it("counts each test's outcome, with an #[ignore] reason, and keeps a failure's own output", () => {
    const { outcomes } = read(false);
    const binary = "src/lib.rs";
    expect(outcomes.filter((t) => t.outcome === "pass").map((t) => t.name)).toHaveLength(6);
    expect(outcomes.filter((t) => t.outcome === "skip")).toEqual([
      { package: binary, name: "more::needs_network", outcome: "skip", output: [], reason: "no network in here" },
      { package: binary, name: "more::slow", outcome: "skip", output: [], reason: "#[ignore] without a reason" },
    ]);
    const failed = outcomes.find((t) => t.outcome === "fail")!;
    expect(failed.name).toBe("more::must_fail");
    expect(failed.output.join("")).toBe(
      [
        "some output",
        "",
        "thread 'more::must_fail' (7088) panicked at src/lib.rs:331:9:",
        "assertion `left == right` failed: on purpose",
        "  left: 2",
        " right: 3",
        "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
        "",
      ].join("\n"),
    );
  });

  it("shows cargo's errors but not its progress, and every line when verbose", () => {
    const quiet = read(false).shown;
    expect(quiet).toBe("error: test failed, to rerun pass `--lib`\n");
    const verbose = read(true).shown;
    expect(verbose).toContain("   Compiling zz-top v0.1.0 (/p/plugin)\n");
    expect(verbose).toContain("test tests::compares_secrets_whole ... ok\n");
  });
});
