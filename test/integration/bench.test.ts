import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { removeTempDirs, runCli, tempDir } from "../helpers/cli.js";
import { foreground, newProject, stopProjects } from "../helpers/project.js";
import { expectAllStopped, request, waitFor } from "../helpers/run.js";

afterEach(stopProjects);
afterAll(removeTempDirs);

interface EnvoyResult {
  requests: number;
  requestsPerSecond: number;
  latencyUs: { p50: number; p90: number; p99: number };
  errors: number;
  non2xx: number;
  histogram: { count: number }[];
  memory: { before: { allocated?: number; rss?: number; wasmVms?: number }; after: { allocated?: number; rss?: number; wasmVms?: number } };
  cpuUsPerRequest?: number;
}

/** The access log lines of requests to /hello (the template's envoy.yaml logs each request to Envoy's stdout). */
const accessLines = (text: string) => text.split("\n").filter((l) => l.includes('"GET /hello HTTP/1.1" 200')).length;

describe("envoywasm bench (autocannon through three Envoys of its own: no filter, the no-op filter, the plugin)", () => {
  it("measures beside a foreground up, which sees none of its load; builds the no-op filter once, into envoywasm's cache", async () => {
    const p = await newProject("add-header", "bn");
    // A cache of its own: another file's bench (the README's) may have built the no-op filter into the shared one.
    const env = { ENVOYWASM_HOME: await tempDir("envoywasm-bench-home-") };
    const { up, out } = await foreground(p);
    try {
      const r = await runCli(["bench", "-d", "1", "-c", "2", "--json"], { cwd: p.dir, env, timeoutMs: 170_000 });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stderr).toContain("building the no-op go filter");
      const result = JSON.parse(r.stdout) as Record<"baseline" | "floor" | "plugin", EnvoyResult> & {
        path: string;
        rounds: number;
        envoy: { logLevel: string; concurrency: number; accessLog: boolean };
        noopFilter: { toolchain: string; sdk: string; built: boolean };
        floorCost: { rpsRatio: number; latencyUs: { p50: number; p90: number; p99: number }; cpuUsPerRequest: number };
        pluginCost: { rpsRatio: number; latencyUs: { p50: number; p90: number; p99: number }; cpuUsPerRequest: number };
      };
      expect(result.path).toBe("/hello");
      // One second through each Envoy: two alternating rounds of half a second.
      expect(result.rounds).toBe(2);
      expect(result.envoy).toMatchObject({ logLevel: "info", concurrency: 1, accessLog: false });
      expect(result.noopFilter).toMatchObject({ toolchain: "go", built: true });
      expect(result.noopFilter.sdk).toMatch(/^github\.com\/proxy-wasm\/proxy-wasm-go-sdk v\S+$/);
      for (const v of [result.baseline, result.floor, result.plugin]) {
        expect(v.requests).toBeGreaterThan(0);
        expect(v.requestsPerSecond).toBeGreaterThan(0);
        expect(v.errors + v.non2xx).toBe(0);
        expect(v.latencyUs.p50).toBeGreaterThan(0);
        expect(v.latencyUs.p90).toBeGreaterThanOrEqual(v.latencyUs.p50);
        expect(v.latencyUs.p99).toBeGreaterThanOrEqual(v.latencyUs.p90);
        expect(v.histogram.reduce((t, b) => t + b.count, 0)).toBe(v.requests);
        expect(v.memory.after.allocated).toBeGreaterThan(0);
        expect(v.memory.after.rss).toBeGreaterThan(0);
        // Envoy's CPU per request, from /proc (these Envoys are processes here): whole µs, and more than none.
        expect(Number.isInteger(v.cpuUsPerRequest)).toBe(true);
        expect(v.cpuUsPerRequest).toBeGreaterThan(0);
      }
      // Wasm VMs in the floor's and the plugin's Envoy, none without the filter.
      expect(result.floor.memory.after.wasmVms).toBeGreaterThan(0);
      expect(result.plugin.memory.after.wasmVms).toBeGreaterThan(0);
      expect(result.baseline.memory.after.wasmVms).toBeUndefined();
      for (const c of [result.floorCost, result.pluginCost]) {
        expect(c.rpsRatio).toBeGreaterThan(0);
        for (const k of ["p50", "p90", "p99"] as const) expect(Number.isInteger(c.latencyUs[k])).toBe(true);
      }
      expect(result.floorCost.latencyUs.p50).toBe(result.floor.latencyUs.p50 - result.baseline.latencyUs.p50);
      expect(result.pluginCost.cpuUsPerRequest).toBe(result.plugin.cpuUsPerRequest! - result.floor.cpuUsPerRequest!);
      // Production-shaped: no access log in bench's own Envoys either.
      expect(accessLines(readFileSync(path.join(p.dir, ".envoywasm/bench-run/logs/envoy.log"), "utf8"))).toBe(0);

      const cached = path.join(env.ENVOYWASM_HOME, "noop-filter");
      const [entry] = readdirSync(cached);
      const wasm = path.join(cached, entry!, "noop.wasm");
      const first = statSync(wasm);

      const r2 = await runCli(["bench", "-d", "1", "-c", "2"], { cwd: p.dir, env, timeoutMs: 170_000 });
      expect(r2.exitCode, r2.stderr).toBe(0);
      expect(r2.stderr).not.toContain("building the no-op");
      expect(readdirSync(cached)).toEqual([entry]);
      expect(statSync(wasm)).toMatchObject({ ino: first.ino, mtimeMs: first.mtimeMs });
      expect(r2.stdout).toMatch(/as in production: log level info \(the plugin's too\), no access log, concurrency 1/);
      for (const row of ["no Wasm filter", "no-op go filter", "the plugin"])
        expect(r2.stdout).toMatch(new RegExp(`${row}\\s+\\d+\\s+\\d+\\s+\\d+\\s+\\d+\\s+0\\s+0\\s+\\d+$`, "m"));
      expect(r2.stdout).toMatch(/the no-op filter over no filter .*: requests\/s [+−][\d.]+% .*µs at p99/);
      expect(r2.stdout).toMatch(/the plugin over the no-op filter .*: requests\/s [+−][\d.]+% /);
      expect(r2.stdout).toMatch(/latency with the plugin:\n {2}[\d.]+-[\d.]+ ms\s+█+ \d+/);

      // The foreground up served none of bench's requests: its terminal and log show only the one sent here.
      const log = () => readFileSync(path.join(p.dir, ".envoywasm/logs/envoy.log"), "utf8");
      expect(accessLines(out.out + out.err) + accessLines(log())).toBe(0);
      expect((await request(p.ports.listener, { path: "/hello" })).status).toBe(200);
      await waitFor(() => accessLines(out.out + out.err) === 1, 5000, "up to show its own request");
      expect(accessLines(log())).toBe(1);
    } finally {
      up.kill("SIGINT");
      await up;
    }
    await expectAllStopped(p.dir, Object.values(p.ports));
  });
});
