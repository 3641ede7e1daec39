import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { boundPorts, parseBootstrap } from "../../src/envoy/bootstrap.js";
import { parseProjectConfig } from "../../src/project/config.js";
import { BIN, removeTempDirs, tempDir } from "../helpers/cli.js";

afterAll(removeTempDirs);

/**
 * Runs the CLI on a real pseudo-terminal (util-linux `script`), answering
 * each prompt once it appears, the way a person would.
 */
function atTerminal(args: string, cwd: string, answers: [prompt: string, keys: string][], before = ""): Promise<{ code: number | null; screen: string }> {
  return new Promise((resolve) => {
    const child = spawn("script", ["-qfec", `${before}${process.execPath} ${BIN} ${args}`, "/dev/null"], {
      cwd,
      env: { ...process.env, NO_COLOR: "1", TERM: "xterm" },
    });
    let screen = "";
    const pending = [...answers];
    child.stdout.on("data", (chunk: Buffer) => {
      screen += chunk.toString();
      while (pending.length > 0 && screen.includes(pending[0]![0])) {
        const [, keys] = pending.shift()!;
        setTimeout(() => child.stdin.write(keys), 150);
      }
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, screen: screen.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, "g"), "") });
    });
  });
}

describe("envoywasm build at a terminal", () => {
  // A pty that reports 0 columns once made ora clear "Infinity" lines a frame: a hang.
  it("draws its spinner, or plain lines where the terminal has no width, and finishes", async () => {
    const dir = await tempDir();
    expect((await atTerminal("init spin --yes", dir, [])).code).toBe(0);
    const bare = await atTerminal("build", path.join(dir, "spin"), []);
    expect(bare.code).toBe(0);
    expect(bare.screen).toContain("compiling plugin/ with go");
    expect(bare.screen).toMatch(/built build\/spin\.wasm/);
    const sized = await atTerminal("build --force", path.join(dir, "spin"), [], "stty cols 100 rows 30; ");
    expect(sized.code).toBe(0);
    expect(sized.screen).toMatch(/built build\/spin\.wasm/);
    expect(sized.screen.length).toBeLessThan(5000);
  });
});

describe("envoywasm init at a terminal", () => {
  it("asks for what the flags do not say, and uses the answers", async () => {
    const dir = await tempDir();
    const { code, screen } = await atTerminal("init proj --backend-port 9180", dir, [
      ["Project name", "cool-plugin\r"],
      ["Template", "\u001b[B\r"], // arrow down: add-header
      ["Toolchain", "\r"],
      ["Listener port", "nope\r"],
      ["must be a port number", "\u0015" + "9180\r"], // Ctrl-U clears the bad answer
      // A clash is caught at the question that makes it, not after all of them.
      ["9180 is already the backend port", "\u0015" + "9185\r"],
      ["Envoy admin port", "\r"],
    ]);
    expect(screen).not.toContain("Backend port"); // given as a flag: not asked
    expect(code).toBe(0);
    const config = parseProjectConfig(await readFile(path.join(dir, "proj", "envoywasm.yaml"), "utf8"));
    expect(config).toMatchObject({ name: "cool-plugin", toolchain: "go" });
    const envoy = parseBootstrap(await readFile(path.join(dir, "proj", "envoy.yaml"), "utf8"), "envoy.yaml", "envoy.yaml");
    expect(boundPorts(envoy).map((p) => [p.what, p.port])).toEqual([
      ["listener listener", 9185],
      ["admin", 8001],
    ]);
    expect(envoy.clusters[0]!.endpoints[0]!.port).toBe(9180);
    expect(await readFile(path.join(dir, "proj", "plugin", "main.go"), "utf8")).toContain("x-envoywasm");
  });

  it("asks nothing with --yes", async () => {
    const dir = await tempDir();
    const { code, screen } = await atTerminal("init quiet --yes", dir, []);
    expect(code).toBe(0);
    expect(screen).not.toContain("?");
    expect(screen).toContain("created quiet (headers template, go toolchain)");
  });
});
