import { execFile } from "node:child_process";
import { mkdtemp, realpath, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatCommand, run, shellQuote, tailLines } from "../../src/platform/exec.js";

const execFileAsync = promisify(execFile);

/** Words a shell would mangle if they were not quoted right. */
const WORDS = [
  "plain",
  "",
  "with space",
  "it's",
  "''",
  '"double"',
  "$HOME",
  "`id`",
  "$(id)",
  "a*b?[c]",
  "~user",
  "semi;colon && amp | pipe > redirect",
  "back\\slash",
  "new\nline",
  "tab\tbed",
  "#hash",
  "!bang",
  "unicode ✓ 日本",
  "-buildmode=c-shared",
  "GOOS=wasip1",
];

let tmp: string;
beforeAll(async () => {
  tmp = await realpath(await mkdtemp(path.join(os.tmpdir(), "envoywasm exec '")));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("shellQuote", () => {
  it("leaves safe words bare", () => {
    for (const w of ["plain", "-buildmode=c-shared", "out.wasm", "./a/b.go", "user@host:1,2", "50%", "a+b"]) {
      expect(shellQuote(w)).toBe(w);
    }
  });

  it("single-quotes everything else", () => {
    expect(shellQuote("")).toBe("''");
    expect(shellQuote("with space")).toBe("'with space'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote("$HOME")).toBe("'$HOME'");
  });

  it("gives words that a real shell reads back unchanged", async () => {
    const { stdout } = await execFileAsync("sh", ["-c", `printf '%s\\0' ${WORDS.map(shellQuote).join(" ")}`]);
    expect(stdout.split("\0").slice(0, -1)).toEqual(WORDS);
  });
});

describe("formatCommand", () => {
  it("writes env, program and arguments as one copy-pasteable line", () => {
    expect(formatCommand("go", ["build", "-o", "out dir/x.wasm", "."], { GOOS: "wasip1", X: "a b" })).toBe(
      "GOOS=wasip1 X='a b' go build -o 'out dir/x.wasm' .",
    );
    expect(formatCommand("go", ["version"])).toBe("go version");
  });

  it("wraps the line in a cd to the working folder", () => {
    expect(formatCommand("go", ["test", "./..."], undefined, "/tmp/my proj")).toBe("(cd '/tmp/my proj' && go test ./...)");
  });

  it("produces a line that a real shell runs as intended", async () => {
    const line = formatCommand("sh", ["-c", 'printf "%s|%s|%s" "$FOO" "$PWD" "$1"', "argv0", "it's $x"], { FOO: "x y's" }, tmp);
    const { stdout } = await execFileAsync("sh", ["-c", line]);
    expect(stdout).toBe(`x y's|${tmp}|it's $x`);
  });
});

describe("run", () => {
  it("runs a program without a shell and does not throw on failure", async () => {
    const result = await run("sh", ["-c", 'echo "out:$FOO"; echo err >&2; exit 3'], { env: { FOO: "bar" }, cwd: tmp });
    expect(result.exitCode).toBe(3);
    expect(result.failed).toBe(true);
    expect(result.stdout).toBe("out:bar\n");
    expect(result.stderr).toBe("err\n");
    expect(result.all).toContain("out:bar\n");
    expect(result.all).toContain("err\n");
    expect(result.spawnError).toBeUndefined();
    expect(result.command).toBe(formatCommand("sh", ["-c", 'echo "out:$FOO"; echo err >&2; exit 3'], { FOO: "bar" }, tmp));
  });

  it("reports a program that does not exist as a spawn error", async () => {
    const result = await run("envoywasm-no-such-program-here", []);
    expect(result.spawnError?.code).toBe("ENOENT");
    expect(result.failed).toBe(true);
  });
});

describe("tailLines", () => {
  it("keeps the last lines, ignoring trailing blank space", () => {
    expect(tailLines("a\nb\nc\nd\n\n", 2)).toBe("c\nd");
    expect(tailLines("only", 5)).toBe("only");
  });
});
