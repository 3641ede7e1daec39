import { readFileSync } from "node:fs";
import { UserError } from "../../errors.js";
import { memoryStats } from "../../envoy/admin.js";
import { loadProject } from "../../project/config.js";
import { readEnvoyConfig } from "../../project/load.js";
import { tryRequests } from "../e2e/try-requests.js";
import { startBenchEnvoys, VARIANTS, type Variant } from "./envoys.js";
import { load, summarize, type LoadRequest, type LoadResult, type Sample } from "./load.js";

export type { LoadResult } from "./load.js";
export type { Variant } from "./envoys.js";

/**
 * `envoywasm bench`: what the filter costs on the data path, measured
 * against the cheapest filter of its toolchain. The same load goes through
 * three Envoys of bench's own (envoys.ts): without the Wasm filter
 * (baseline), with the toolchain's no-op filter (floor), with the plugin;
 * in alternating rounds, so a noisy machine affects all alike. Each Envoy's
 * memory before and after the load shows what the VMs hold and a plugin
 * that leaks.
 */

export interface BenchOptions extends LoadRequest {
  cwd: string;
  durationS: number;
  path?: string;
  onPhase?: (text: string) => void;
}

export interface MemorySample {
  /** Bytes Envoy's allocator has handed out, and its heap. */
  allocated?: number;
  heap?: number;
  /** Resident memory of the Envoy process. */
  rss?: number;
  wasmVms?: number;
}

export interface EnvoyResult extends LoadResult {
  memory: { before: MemorySample; after: MemorySample };
  /** Envoy's CPU time (user and system, all threads) per request, in µs; where /proc tells it. */
  cpuUsPerRequest?: number;
}

/**
 * What one Envoy costs over another: its requests/s as a ratio (below 1:
 * slower; the median of the rounds' ratios, each round's pair measured back
 * to back), latency added in µs, and Envoy's CPU added per request.
 */
export interface Cost {
  rpsRatio: number;
  latencyUs: { p50: number; p90: number; p99: number };
  cpuUsPerRequest?: number;
}

export interface BenchResult {
  method: string;
  path: string;
  durationS: number;
  /** Slices of the load per Envoy, alternated (about a second each). */
  rounds: number;
  connections: number;
  /** How the three Envoys ran (the same for all three). */
  envoy: { version: string; logLevel: string; concurrency: number; accessLog: false };
  /** The floor's filter: the toolchain's SDK with its default (no-op) contexts. */
  noopFilter: { toolchain: string; sdk: string; built: boolean };
  baseline: EnvoyResult;
  floor: EnvoyResult;
  plugin: EnvoyResult;
  /** The no-op filter over no filter, and the plugin over the no-op filter. */
  floorCost: Cost;
  pluginCost: Cost;
}

/** About a second per slice: many short rounds spread a drift in the machine's load over all three alike. */
const roundsFor = (durationS: number) => Math.max(2, Math.min(30, Math.round(durationS)));

export async function bench(options: BenchOptions): Promise<BenchResult> {
  const project = await loadProject(options.cwd);
  const bootstrap = await readEnvoyConfig(project);
  const listener = bootstrap.listeners.find((l) => bootstrap.wasmFilters.some((f) => f.listener === l.name));
  if (listener === undefined) throw new UserError(`${bootstrap.display} has no listener with a Wasm filter to measure`);
  // The default request: the first e2e case's that expects a 2xx (the auth template's carries its key).
  const tries = (await tryRequests(project, bootstrap)).requests;
  const tried = tries.find((r) => r.status === undefined || (r.status >= 200 && r.status < 300)) ?? tries[0];
  const requestPath = options.path ?? tried?.path ?? "/";
  const request: LoadRequest = { ...options, headers: { ...(options.path === undefined ? (tried?.headers ?? {}) : {}), ...options.headers } };

  const envoys = await startBenchEnvoys(project, bootstrap, listener.name, { cwd: options.cwd, onPhase: options.onPhase });
  try {
    const url = (v: Variant) => `http://127.0.0.1:${envoys.ports[v].listener}${requestPath}`;
    // Each Envoy's process, for its memory and CPU time (it does not change: a stopped Envoy ends the run).
    const pids = Object.fromEntries(await Promise.all(VARIANTS.map(async (v) => [v, await envoys.pid(v)] as const))) as Record<Variant, number | undefined>;
    const memory = (v: Variant) => sampleMemory(envoys.ports[v].admin, pids[v]);
    const before = Object.fromEntries(await Promise.all(VARIANTS.map(async (v) => [v, await memory(v)] as const))) as Record<Variant, MemorySample>;
    // Warm each (connections, the VMs' first calls), then alternate rounds, the order reversed each round.
    options.onPhase?.("warming up");
    const warm = Math.min(1, options.durationS / 4);
    for (const v of VARIANTS) {
      await load(url(v), request, warm, envoys.ended);
      envoys.check();
    }
    const rounds = roundsFor(options.durationS);
    const samples: Record<Variant, Sample[]> = { baseline: [], floor: [], plugin: [] };
    const cpuTicks: Record<Variant, number[]> = { baseline: [], floor: [], plugin: [] };
    for (let i = 0; i < rounds; i++) {
      for (const v of i % 2 === 0 ? VARIANTS : [...VARIANTS].reverse()) {
        options.onPhase?.(`round ${i + 1} of ${rounds}: ${DESCRIBED[v]}`);
        const cpuBefore = cpuTicksOf(pids[v]);
        samples[v].push(await load(url(v), request, options.durationS / rounds, envoys.ended));
        const cpuAfter = cpuTicksOf(pids[v]);
        if (cpuBefore !== undefined && cpuAfter !== undefined) cpuTicks[v].push(cpuAfter - cpuBefore);
        envoys.check();
      }
    }
    const result = {} as Record<Variant, EnvoyResult>;
    for (const v of VARIANTS) {
      const summed = summarize(samples[v]);
      const cpu = cpuTicks[v].length === rounds && summed.requests > 0 ? Math.round((sum(cpuTicks[v]) * US_PER_TICK) / summed.requests) : undefined;
      result[v] = { ...summed, memory: { before: before[v], after: await memory(v) }, cpuUsPerRequest: cpu };
    }
    const roundRps = (v: Variant) => samples[v].map((s) => s.latencies.length / Math.max(s.seconds, 0.001));
    return {
      method: options.method,
      path: requestPath,
      durationS: options.durationS,
      rounds,
      connections: options.connections,
      envoy: { version: envoys.envoyVersion, ...envoys.shape },
      noopFilter: { toolchain: project.config.toolchain, sdk: envoys.noop.sdk, built: envoys.noop.built },
      ...result,
      floorCost: cost(result.floor, result.baseline, roundRps("floor"), roundRps("baseline")),
      pluginCost: cost(result.plugin, result.floor, roundRps("plugin"), roundRps("floor")),
    };
  } finally {
    await envoys.stop();
  }
}

const DESCRIBED: Record<Variant, string> = { baseline: "without a Wasm filter", floor: "with the no-op filter", plugin: "with the plugin" };

function cost(a: EnvoyResult, b: EnvoyResult, aRounds: number[], bRounds: number[]): Cost {
  const ratios = aRounds.map((r, i) => (bRounds[i]! > 0 ? r / bRounds[i]! : 0)).sort((x, y) => x - y);
  const mid = ratios.length >> 1;
  const median = ratios.length % 2 === 1 ? ratios[mid]! : (ratios[mid - 1]! + ratios[mid]!) / 2;
  return {
    rpsRatio: Math.round(median * 1000) / 1000,
    latencyUs: { p50: a.latencyUs.p50 - b.latencyUs.p50, p90: a.latencyUs.p90 - b.latencyUs.p90, p99: a.latencyUs.p99 - b.latencyUs.p99 },
    cpuUsPerRequest: a.cpuUsPerRequest === undefined || b.cpuUsPerRequest === undefined ? undefined : a.cpuUsPerRequest - b.cpuUsPerRequest,
  };
}

const sum = (values: number[]) => values.reduce((t, v) => t + v, 0);

/** /proc reports CPU time in USER_HZ ticks, 100 a second on Linux. */
const US_PER_TICK = 10_000;

/** The process's CPU time so far (user and system, in ticks); undefined off Linux or once it is gone. */
function cpuTicksOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the command's closing parenthesis: state is the 3rd of stat's fields, utime the 14th, stime the 15th.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

async function sampleMemory(admin: number, envoyPid: number | undefined): Promise<MemorySample> {
  const m = await memoryStats(admin);
  let rss: number | undefined;
  if (envoyPid !== undefined) {
    try {
      const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${envoyPid}/status`, "utf8"))?.[1];
      if (kb !== undefined) rss = Number(kb) * 1024;
    } catch {
      // not Linux, or gone
    }
  }
  return { ...(m ?? {}), rss };
}
