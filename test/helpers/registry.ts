import { spawn, type ChildProcess } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { stringify } from "yaml";
import { freePort, tempDir } from "./cli.js";
import { request, waitFor } from "./run.js";

/**
 * A real OCI registry for the tests: Debian's docker-registry, on a free
 * 127.0.0.1 port, storing in a temp folder. The Docker engine treats
 * 127.0.0.0/8 registries as insecure, so it pushes and pulls without TLS.
 */
export interface Registry {
  port: number;
  host: string;
  stop: () => Promise<void>;
}

export async function startRegistry(options: { htpasswd?: string } = {}): Promise<Registry> {
  const dir = await tempDir("envoywasm-registry-");
  const port = await freePort();
  const config: Record<string, unknown> = {
    version: 0.1,
    log: { level: "warn" },
    storage: { filesystem: { rootdirectory: path.join(dir, "data") } },
    http: { addr: `127.0.0.1:${port}` },
  };
  if (options.htpasswd !== undefined) {
    await writeFile(path.join(dir, "htpasswd"), options.htpasswd);
    config.auth = { htpasswd: { realm: "envoywasm-test", path: path.join(dir, "htpasswd") } };
  }
  await writeFile(path.join(dir, "config.yml"), stringify(config));
  const child = spawn("docker-registry", ["serve", path.join(dir, "config.yml")], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
  const stop = () => stopProcess(child);
  // Ready when /v2/ answers (401 with auth on); an early exit is reported with its output.
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}:\n${output}`);
        const answer = await request(port, { path: "/v2/" }).catch(() => undefined);
        return answer !== undefined && (answer.status === 200 || answer.status === 401);
      },
      30_000,
      `docker-registry on 127.0.0.1:${port}`,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, host: `127.0.0.1:${port}`, stop };
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}
