import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { expect } from "vitest";
import { portInUse } from "../../src/platform/ports.js";
import { waitFor } from "./wait.js";

export { waitFor };

/** Shared by the tests that run projects: requests, waiting on conditions, and the checks that nothing is left. */

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One HTTP request to 127.0.0.1 (no keep-alive). */
export function request(port: number, options: { path?: string; method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path: options.path ?? "/hello", method: options.method ?? "GET", headers: options.headers ?? {}, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

/** Running, not merely a zombie waiting for a parent to reap it. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
  } catch {
    return false;
  }
}

/** Live processes whose command line or working folder is inside dir. */
export function processesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    if (Number(pid) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      if (readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ")) continue;
      if (cmd.includes(dir) || cwd.startsWith(dir)) found.push(`${pid}: ${cmd}`);
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

/** Nothing of the project runs, no port it used is held, no state file is left. */
export async function expectAllStopped(dir: string, ports: number[]): Promise<void> {
  await waitFor(() => processesUnder(dir).length === 0, 5000, "the project's processes to end").catch(() => {});
  expect(processesUnder(dir)).toEqual([]);
  for (const port of ports) expect(await portInUse(port), `port ${port}`).toBe(false);
  expect(existsSync(path.join(dir, ".envoywasm/state.json"))).toBe(false);
  expect(existsSync(path.join(dir, ".envoywasm/run.lock"))).toBe(false);
}

/**
 * A steady load through the listener: `loops` keep-alive clients sending
 * requests back to back until stopped (at most 60 s), counting what failed
 * and each value of `header` the answers carried ("none" when absent).
 */
export function steadyLoad(port: number, header: string, loops = 4) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: loops });
  const counts = { ok: 0, failed: 0, non200: 0, versions: new Set<string>() };
  let stopped = false;
  const deadline = Date.now() + 60_000;
  const one = () =>
    new Promise<void>((resolve) => {
      const req = http.get({ host: "127.0.0.1", port, path: "/hello", agent }, (res) => {
        res.resume();
        res.on("end", () => {
          if (res.statusCode === 200) counts.ok++;
          else counts.non200++;
          counts.versions.add(String(res.headers[header] ?? "none"));
          resolve();
        });
        res.on("error", () => {
          counts.failed++;
          resolve();
        });
      });
      req.on("error", () => {
        counts.failed++;
        resolve();
      });
    });
  const running = Promise.all(
    Array.from({ length: loops }, async () => {
      while (!stopped && Date.now() < deadline) await one();
    }),
  );
  return {
    counts,
    stop: async () => {
      stopped = true;
      await running;
      agent.destroy();
      return counts;
    },
  };
}
