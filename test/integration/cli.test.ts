import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO, removeTempDirs, runCli, tempDir } from "../helpers/cli.js";

afterAll(removeTempDirs);

describe("the command line", () => {
  it("--version prints the package version", async () => {
    const r = await runCli(["--version"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trim()).toBe((JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")) as { version: string }).version);
  });

  it("every command's --help has an example", async () => {
    for (const command of [
      ["init"],
      ["build"],
      ["test"],
      ["up"],
      ["reload"],
      ["down"],
      ["status"],
      ["logs"],
      ["bench"],
      ["doctor"],
      ["package"],
      ["push"],
      ["export"],
      ["envoy", "install"],
      ["envoy", "list"],
      ["envoy", "which"],
    ]) {
      const r = await runCli([...command, "--help"]);
      expect(r.exitCode, command.join(" ")).toBe(0);
      expect(r.stdout, command.join(" ")).toMatch(/Examples:\n {2}envoywasm /);
      // The description flows as one paragraph, wrapped to the help's width (80 columns in a pipe): a
      // line break in the text itself left short lines in mid-sentence.
      const block = r.stdout.split("\n\n")[1]!;
      const description = /^(Options|Arguments):/.test(block) ? [] : block.split("\n");
      for (const line of description.slice(0, -1)) expect(line.length, `${command.join(" ")}: "${line}"`).toBeGreaterThan(50);
    }
  });

  it("an unknown command or option is a usage error (exit 2) with a suggestion", async () => {
    const r = await runCli(["biuld"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("(Did you mean build?)");
    const o = await runCli(["build", "--forse"]);
    expect(o.exitCode).toBe(2);
    expect(o.stderr).toContain("unknown option '--forse'");
  });

  it("-C runs in another folder; errors carry no stack trace unless --verbose", async () => {
    const dir = await tempDir();
    const plain = await runCli(["-C", dir, "status"]);
    expect(plain.exitCode).toBe(1);
    expect(plain.stderr).toContain(`no envoywasm.yaml found in ${dir}`);
    expect(plain.stderr).not.toMatch(/^\s+at /m);
    const verbose = await runCli(["-C", dir, "--verbose", "status"]);
    expect(verbose.stderr).toMatch(/^\s+at /m);

    expect((await runCli(["init", "cwdproj", "--yes"], { cwd: dir })).exitCode).toBe(0);
    const built = await runCli(["-C", path.join(dir, "cwdproj"), "--verbose", "build", "--force"]);
    expect(built.exitCode, built.stderr).toBe(0);
    // --verbose shows the exact commands, ready to paste.
    expect(built.stderr).toMatch(
      /\$ \(cd \S+\/cwdproj\/plugin && GOOS=wasip1 GOARCH=wasm go build -trimpath -buildvcs=false -buildmode=c-shared -o \.\.\/build\/\.cwdproj\.wasm\.[0-9a-f]+\.tmp \.\)/,
    );
  });

  it("--json errors are JSON on stdout, with the hint", async () => {
    const dir = await tempDir();
    const r = await runCli(["build", "--json"], { cwd: dir });
    expect(r.exitCode).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({
      error: expect.stringContaining("no envoywasm.yaml found"),
      hint: expect.stringContaining("envoywasm init"),
      exitCode: 1,
    });
  });

  it("colour only when asked: none without a terminal", async () => {
    const dir = await tempDir();
    const r = await runCli(["init", "plain", "--yes"], { cwd: dir, env: { NO_COLOR: undefined } });
    expect(r.stderr + r.stdout).not.toContain("\u001b[");
    const forced = await runCli(["init", "coloured", "--yes"], { cwd: dir, env: { NO_COLOR: undefined, FORCE_COLOR: "1" } });
    expect(forced.stderr).toContain("\u001b[32m");
  });
});
