import { execa, type ResultPromise } from "execa";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { freePort as unusedPort } from "../../src/platform/ports.js";
import { fileURLToPath } from "node:url";

/**
 * A port free now and handed to no other test of this run: the test files run in parallel processes, and
 * two of them can be handed the same free port a moment apart (it happened: one test's Envoy held the
 * admin port another's was about to bind). Each port is claimed with an exclusive create in the run's folder.
 */
export async function freePort(): Promise<number> {
  const claims = path.join(process.env.ENVOYWASM_TEST_RUN ?? os.tmpdir(), "ports");
  await mkdir(claims, { recursive: true });
  for (;;) {
    const port = await unusedPort();
    try {
      await writeFile(path.join(claims, String(port)), `${process.pid}\n`, { flag: "wx" });
      return port;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
}

export const REPO = fileURLToPath(new URL("../../", import.meta.url));
export const BIN = path.join(REPO, "bin", "envoywasm.js");

// test/global-setup.ts gives every test process a throwaway HOME, TMPDIR and
// envoywasm cache (ENVOYWASM_HOME), and puts the run's Envoy on PATH.

export interface CliResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  signal: string | undefined;
}

/** Runs the real CLI as a subprocess; never throws on a non-zero exit. */
export async function runCli(
  args: string[],
  options: { cwd?: string; env?: Record<string, string | undefined>; timeoutMs?: number; input?: string } = {},
): Promise<CliResult> {
  const result = await execa(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? REPO,
    env: { NO_COLOR: "1", ...options.env },
    reject: false,
    timeout: options.timeoutMs ?? 170_000,
    input: options.input ?? "",
  });
  return {
    exitCode: result.exitCode,
    stdout: String(result.stdout ?? ""),
    stderr: String(result.stderr ?? ""),
    signal: result.signal,
  };
}

/** Starts the CLI without waiting for it (for foreground `up`). */
export function spawnCli(args: string[], options: { cwd: string; env?: Record<string, string> }): ResultPromise {
  return execa(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    reject: false,
    all: true,
    buffer: true,
  });
}

const made: string[] = [];

export async function tempDir(prefix = "envoywasm-test-"): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

export async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}
