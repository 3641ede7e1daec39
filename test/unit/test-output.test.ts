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

describe("why cargo test failed before running a test", () => {
  // Real `cargo test` stderr (Rust 1.95, x86_64 Linux) of a crate with `#[no_mangle] pub fn _start() {}` in src/lib.rs,
  // linked by rust-lld (the default) and by GNU ld (RUSTFLAGS=-Clinker-features=-lld).
  for (const [linker, file, said] of [
    ["rust-lld", "cargo-test-own-start.stderr", "rust-lld: error: duplicate symbol: _start"],
    ["GNU ld", "cargo-test-own-start-gnu-ld.stderr", "multiple definition of `_start'"],
  ] as const) {
    it(`names the crate's own _start, which the host's test binary cannot link (${linker})`, () => {
      const parser = testOutputParser("libtest");
      const shown = fixture(file).map((line) => parser.stderr(line, false) ?? "");
      expect(shown.join("")).toContain(said);
      expect(parser.outcomes()).toEqual([]);
      expect(parser.cause()).toBe(
        'the crate defines its own _start (#[no_mangle] pub fn _start), which clashes with the test harness\'s on the host: gate it with #[cfg(target_arch = "wasm32")], or run only the e2e cases with `envoywasm test --e2e`',
      );
    });
  }

  it("names no cause for a run whose tests ran", () => {
    const parser = testOutputParser("libtest");
    for (const line of fixture("cargo-test.stderr")) parser.stderr(line, false);
    expect(parser.cause()).toBeUndefined();
  });
});

describe("why go test failed when a package did not build", () => {
  // Real `go test -json ./...` events (Go 1.26) of a module with one package whose import does not resolve, beside one whose test passes.
  const events = [
    { ImportPath: "main/proto", Action: "build-output", Output: "# main/brk\n" },
    { ImportPath: "main/proto", Action: "build-output", Output: "brk/main.brk.go:14:2: package main/proto is not in std\n" },
    { ImportPath: "main/proto", Action: "build-fail" },
    { Action: "start", Package: "main/brk" },
    { Action: "fail", Package: "main/brk", Elapsed: 0, FailedBuild: "main/proto" },
    { Action: "run", Package: "main/test", Test: "TestRoute" },
    { Action: "pass", Package: "main/test", Test: "TestRoute", Elapsed: 0 },
    { Action: "pass", Package: "main/test", Elapsed: 0.01 },
  ];

  it("names the package that did not build, so its tests did not run, though others passed", () => {
    const parser = testOutputParser("go-json");
    const shown = events.map((e) => parser.stdout(JSON.stringify(e), false) ?? "").join("");
    expect(shown).toContain("package main/proto is not in std");
    expect(parser.outcomes().map((t) => [t.name, t.outcome])).toEqual([["TestRoute", "pass"]]);
    expect(parser.cause()).toBe("main/brk did not build (the compiler's error is above), so its tests did not run");
  });

  it("names no cause when every package built", () => {
    const parser = testOutputParser("go-json");
    for (const e of events.slice(5)) parser.stdout(JSON.stringify(e), false);
    expect(parser.cause()).toBeUndefined();
  });
});
