import { afterAll, afterEach, describe, expect, it } from "vitest";
import { removeTempDirs, runCli } from "../helpers/cli.js";
import { newProject, stopProjects } from "../helpers/project.js";
import { expectAllStopped } from "../helpers/run.js";

afterEach(stopProjects);
afterAll(removeTempDirs);

describe("envoywasm bench (autocannon through the real Envoy, with and without the filter)", () => {
  it("starts the project, measures both sides, reports both latency sets and memory, and stops it again", async () => {
    const p = await newProject("add-header", "bn");
    const r = await runCli(["bench", "-d", "1", "-c", "2", "--json"], { cwd: p.dir, timeoutMs: 120_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as {
      url: string;
      withFilter: { requests: number; rps: number; errors: number; non2xx: number; latencyMs: { p50: number; p99: number }; histogram: { count: number }[] };
      withoutFilter: { requests: number; rps: number; errors: number; latencyMs: { p50: number; p99: number } };
      overhead: { rps: number };
      memory: { before: { allocated?: number; rss?: number; wasmVms?: number }; after: { allocated?: number } };
      startedRun: boolean;
    };
    expect(result.url).toBe(`http://127.0.0.1:${p.ports.listener}/hello`);
    for (const side of [result.withFilter, result.withoutFilter]) {
      expect(side.requests).toBeGreaterThan(0);
      expect(side.rps).toBeGreaterThan(0);
      expect(side.errors).toBe(0);
      expect(side.latencyMs.p50).toBeGreaterThan(0);
      expect(side.latencyMs.p99).toBeGreaterThanOrEqual(side.latencyMs.p50);
    }
    expect(result.withFilter.non2xx).toBe(0);
    expect(result.withFilter.histogram.reduce((t, b) => t + b.count, 0)).toBe(result.withFilter.requests);
    expect(result.overhead.rps).toBeGreaterThan(0);
    expect(result.memory.before.allocated).toBeGreaterThan(0);
    expect(result.memory.before.rss).toBeGreaterThan(0);
    expect(result.memory.before.wasmVms).toBeGreaterThan(0);
    expect(result.startedRun).toBe(true);
    await expectAllStopped(p.dir, Object.values(p.ports));
  });

  it("uses a running project and prints a table and a histogram", async () => {
    const p = await newProject("headers", "bn2");
    expect((await runCli(["up", "-d"], { cwd: p.dir })).exitCode).toBe(0);
    const r = await runCli(["bench", "-d", "1", "-c", "2"], { cwd: p.dir, timeoutMs: 120_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain("using the running project");
    expect(r.stdout).toMatch(/with the filter\s+\d+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+0\s+0/);
    expect(r.stdout).toMatch(/without it\s+\d+\s+[\d.]+/);
    expect(r.stdout).toMatch(/latency with the filter:\n {2}[\d.]+-[\d.]+ ms\s+█+ \d+/);
    expect((await runCli(["status", "--json"], { cwd: p.dir })).stdout).toContain('"running": true');
  });
});
