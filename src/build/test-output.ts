import type { TestOutputFormat } from "./toolchain-adapter.js";

/**
 * Reading what a plugin's test command prints, one parser per output format
 * (TestCommand.format): which tests passed, failed or were skipped (and why),
 * each test's own output, and which other lines are worth showing.
 */

export interface TestOutcome {
  package: string;
  name: string;
  outcome: "pass" | "fail" | "skip";
  /** The test's own output, shown when it failed. */
  output: string[];
  /** What a skipped test said. */
  reason?: string;
}

export interface TestOutputParser {
  /** One line of the command's stdout, without its newline; returns what to show of it (with newlines), if anything. */
  stdout(line: string, verbose: boolean): string | undefined;
  /** One line of its stderr; returns what to show of it. */
  stderr(line: string, verbose: boolean): string | undefined;
  /** The tests, once the command has ended. */
  outcomes(): TestOutcome[];
  /** Why the command failed before running any test, when its output says so: a hint for the user. */
  cause(): string | undefined;
}

/** What a run reports as it goes: a test that ended, or a package (a test binary) that did. */
export type TestProgress = (ended: { package: string; test?: string; outcome: TestOutcome["outcome"] }) => void;

export function testOutputParser(format: TestOutputFormat, progress: TestProgress = () => {}): TestOutputParser {
  return format === "go-json" ? goJsonParser(progress) : libtestParser(progress);
}

interface GoTestEvent {
  Action: string;
  Package?: string;
  Test?: string;
  Output?: string;
  FailedBuild?: string;
}

/** `go test -json`: one JSON event per line. */
function goJsonParser(progress: TestProgress): TestOutputParser {
  const outputs = new Map<string, string[]>();
  const seen = new Map<string, string>();
  /** Packages whose tests did not run because they (or a package they import) did not build. */
  const unbuilt: string[] = [];
  return {
    stdout(line, verbose) {
      if (line.trim() === "") return undefined;
      let event: GoTestEvent;
      try {
        event = JSON.parse(line) as GoTestEvent;
      } catch {
        return `${line}\n`;
      }
      const key = `${event.Package ?? ""}\0${event.Test ?? ""}`;
      if (event.Action === "output" || event.Action === "build-output") {
        const text = event.Output ?? "";
        if (event.Test !== undefined) outputs.set(key, [...(outputs.get(key) ?? []), text]);
        if (verbose) return text;
        return event.Test === undefined && !/^(ok|PASS|FAIL|\?|=== |--- )/.test(text.trim()) ? text : undefined;
      }
      if (["pass", "fail", "skip"].includes(event.Action)) {
        const outcome = event.Action === "pass" ? "pass" : event.Action === "fail" ? "fail" : "skip";
        if (event.Test !== undefined) seen.set(key, event.Action);
        else if (event.FailedBuild !== undefined) unbuilt.push(event.Package ?? "");
        progress({ package: event.Package ?? "", test: event.Test, outcome });
      }
      return undefined;
    },
    stderr: (line) => `${line}\n`,
    cause: () =>
      unbuilt.length === 0
        ? undefined
        : `${unbuilt.join(", ")} did not build (the compiler's error is above), so ${unbuilt.length === 1 ? "its" : "their"} tests did not run`,
    outcomes() {
      const names = [...seen.keys()];
      const out: TestOutcome[] = [];
      for (const [key, action] of seen) {
        // Count leaves only: a test with subtests passes or fails with them.
        if (names.some((other) => other.startsWith(`${key}/`))) continue;
        const [pkg, name] = key.split("\0") as [string, string];
        const output = outputs.get(key) ?? [];
        const outcome = action === "pass" ? "pass" : action === "fail" ? "fail" : "skip";
        out.push({ package: pkg, name, outcome, output, reason: outcome === "skip" ? skipReason(output) : undefined });
      }
      return out;
    },
  };
}

/** What t.Skip said: the output line between "=== RUN" and "--- SKIP", without its file:line. */
export function skipReason(lines: readonly string[]): string {
  const said = lines
    .map((l) => l.trim())
    .filter((l) => l !== "" && !/^(=== (RUN|PAUSE|CONT|NAME)|--- SKIP)/.test(l))
    .map((l) => l.replace(/^\S+\.go:\d+: /, ""));
  return said.join(" ") || "no reason given";
}

const LIBTEST_RESULT = /^test (.+?)(?: - should panic)? \.\.\. (ok|FAILED|ignored)(?:, (.*))?$/;
const LIBTEST_OUTPUT = /^---- (.+?) (stdout|stderr) ----$/;
/** cargo's own progress lines on stderr; compiler warnings and errors are shown. */
const CARGO_PROGRESS = /^\s*(Compiling|Finished|Running|Doc-tests|Fresh|Blocking|Downloading|Downloaded|Locking|Updating|Adding|Checking)\b/;
/** The host's linker (rust-lld, GNU ld) refusing a second _start: the crate's own, beside the C runtime's the test binary starts from. */
const OWN_START = /duplicate symbol: _start\b|multiple definition of `_start'/;

/**
 * Rust's test harness (libtest), as `cargo test` prints it: `test name ... ok`
 * per test, then for the failures (and, with --show-output, the successes)
 * `---- name stdout ----` and what the test printed. cargo runs one harness
 * per test binary (unit tests, tests/*.rs), each saying so on stderr.
 */
function libtestParser(progress: TestProgress): TestOutputParser {
  const results = new Map<string, { outcome: TestOutcome["outcome"]; reason?: string }>();
  const outputs = new Map<string, string[]>();
  let binary = "";
  let capturing: string | undefined;
  let ownStart = false;
  const key = (name: string) => `${binary}\0${name}`;
  return {
    stdout(line, verbose) {
      const result = LIBTEST_RESULT.exec(line);
      if (result !== null) {
        capturing = undefined;
        const outcome = result[2] === "ok" ? "pass" : result[2] === "FAILED" ? "fail" : "skip";
        results.set(key(result[1]!), { outcome, reason: outcome === "skip" ? (result[3] ?? "#[ignore] without a reason") : undefined });
        progress({ package: binary, test: result[1]!, outcome });
      } else {
        const block = LIBTEST_OUTPUT.exec(line);
        if (block !== null) capturing = key(block[1]!);
        else if (/^(failures|successes):$/.test(line)) capturing = undefined;
        else if (/^test result: /.test(line)) {
          capturing = undefined;
          progress({ package: binary, outcome: /^test result: ok/.test(line) ? "pass" : "fail" });
        } else if (capturing !== undefined) outputs.set(capturing, [...(outputs.get(capturing) ?? []), `${line}\n`]);
      }
      return verbose ? `${line}\n` : undefined;
    },
    stderr(line, verbose) {
      const running = /^\s*Running (?:unittests )?(\S+)/.exec(line);
      if (running !== null) binary = running[1]!;
      if (OWN_START.test(line)) ownStart = true;
      return verbose || !CARGO_PROGRESS.test(line) ? `${line}\n` : undefined;
    },
    cause: () =>
      ownStart
        ? 'the crate defines its own _start (#[no_mangle] pub fn _start), which clashes with the test harness\'s on the host: gate it with #[cfg(target_arch = "wasm32")], or run only the e2e cases with `envoywasm test --e2e`'
        : undefined,
    outcomes() {
      return [...results].map(([k, r]) => {
        const [pkg, name] = k.split("\0") as [string, string];
        // The blank line libtest ends each block with is not the test's.
        const output = [...(outputs.get(k) ?? [])];
        while (output.length > 0 && output.at(-1)!.trim() === "") output.pop();
        return { package: pkg, name, outcome: r.outcome, output, reason: r.reason };
      });
    },
  };
}
