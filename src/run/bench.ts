import { readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { Document } from "yaml";
import { UserError } from "../errors.js";
import { get, type EnvoyBootstrap } from "../envoy/bootstrap.js";
import { locateEnvoy } from "../envoy/binary.js";
import { projectPaths } from "../project/paths.js";
import { loadProject } from "../project/config.js";
import { envoyState, memoryStats } from "../envoy/admin.js";
import { ProcessService } from "./runtime/process.js";
import { freePort } from "../platform/ports.js";
import { readState, supervisorAlive } from "./supervisor/state.js";
import { Supervisor } from "./supervisor/supervise.js";
import { prepareUp } from "./prepare.js";
import { baseIdFor } from "./run-ids.js";
import { tryRequests } from "./e2e/try-requests.js";
import { writeFileAtomic } from "../platform/files.js";
import { readEnvoyConfig } from "../project/load.js";

/**
 * `envoywasm bench`: what the filter costs on the data path. The same load
 * goes through the project's listener (with the plugin) and through an
 * otherwise identical Envoy without any Wasm filter (derived from envoy.yaml,
 * on free ports, in front of the same backend), in alternating rounds so a
 * noisy machine affects both alike. Envoy's and the Wasm VMs' memory before
 * and after the load show a plugin that leaks.
 */

export interface BenchOptions {
  cwd: string;
  durationS: number;
  connections: number;
  /** Requests per second in all; unset: as fast as it answers. */
  rate?: number;
  method: string;
  path?: string;
  headers: Record<string, string>;
  body?: string;
  onPhase?: (text: string) => void;
}

export interface LoadResult {
  requests: number;
  rps: number;
  latencyMs: { p50: number; p90: number; p99: number; mean: number; max: number };
  errors: number;
  non2xx: number;
  /** Latencies counted in buckets: below `upToMs` (the last bucket has no limit). */
  histogram: { upToMs: number | null; count: number }[];
}

export interface MemorySample {
  /** Bytes Envoy's allocator has handed out, and its heap. */
  allocated?: number;
  heap?: number;
  /** Resident memory of the Envoy process (natively). */
  rss?: number;
  wasmVms?: number;
}

export interface BenchResult {
  url: string;
  durationS: number;
  connections: number;
  withFilter: LoadResult;
  withoutFilter: LoadResult;
  /** with / without: requests per second (below 1: slower), and latency (above 1: slower). */
  overhead: { rps: number; p50: number; p99: number };
  memory: { before: MemorySample; after: MemorySample };
  /** Whether bench started the project for the measurement (and stopped it after). */
  startedRun: boolean;
}

const BUCKETS = [0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 250];

export async function bench(options: BenchOptions): Promise<BenchResult> {
  const project = await loadProject(options.cwd);
  const paths = projectPaths(project);
  const bootstrap = await readEnvoyConfig(project);
  const listener = bootstrap.listeners.find((l) => bootstrap.wasmFilters.some((f) => f.listener === l.name));
  if (listener === undefined) throw new UserError(`${bootstrap.display} has no listener with a Wasm filter to measure`);
  // The default request: the first e2e case's that expects a 2xx (the auth template's carries its key).
  const tries = (await tryRequests(project, bootstrap)).requests;
  const tried = tries.find((r) => r.status === undefined || (r.status >= 200 && r.status < 300)) ?? tries[0];
  const requestPath = options.path ?? tried?.path ?? "/";
  const request: BenchOptions = { ...options, headers: { ...(options.path === undefined ? (tried?.headers ?? {}) : {}), ...options.headers } };

  let sup: Supervisor | undefined;
  let supervising: Promise<unknown> | undefined;
  let envoyPid: number | undefined;
  let admin: number;
  const state = await readState(paths.runState);
  if (state !== undefined && supervisorAlive(state)) {
    options.onPhase?.("using the running project");
    admin = state.admin;
    envoyPid = state.services.find((s) => s.name === "envoy")?.process?.pid;
  } else {
    options.onPhase?.("starting the project");
    const prepared = await prepareUp({ cwd: options.cwd, onPhase: (p) => options.onPhase?.(p) });
    let ready!: () => void;
    const isReady = new Promise<void>((resolve) => (ready = resolve));
    sup = new Supervisor(prepared.plan, { mode: "foreground", colour: false, onReady: () => ready() });
    supervising = sup.run();
    // Ready, or the run failed to start (its error is the answer).
    await Promise.race([isReady, supervising.then(() => Promise.reject(new UserError("the project stopped before it was ready")))]);
    admin = prepared.plan.admin;
    envoyPid = (await readState(paths.runState))?.services.find((x) => x.name === "envoy")?.process?.pid;
  }

  let baseline: ProcessService | undefined;
  try {
    options.onPhase?.("starting an Envoy without the Wasm filter, for the baseline");
    const { service, port } = await startBaseline(project.root, paths.state, bootstrap, listener.name, options.cwd);
    baseline = service;
    const before = await memory(admin, envoyPid);
    const url = `http://127.0.0.1:${listener.port}${requestPath}`;
    const base = `http://127.0.0.1:${port}${requestPath}`;
    // Warm both (connections, the VMs' first calls), then alternate rounds.
    options.onPhase?.("warming up");
    const warm = Math.min(1, options.durationS / 4);
    await load(url, request, warm);
    await load(base, request, warm);
    const rounds = 2;
    const withFilter: Sample[] = [];
    const withoutFilter: Sample[] = [];
    for (let i = 0; i < rounds; i++) {
      options.onPhase?.(`round ${i + 1} of ${rounds}: with the filter`);
      withFilter.push(await load(url, request, options.durationS / rounds));
      options.onPhase?.(`round ${i + 1} of ${rounds}: without it`);
      withoutFilter.push(await load(base, request, options.durationS / rounds));
    }
    const after = await memory(admin, envoyPid);
    const a = summarize(withFilter);
    const b = summarize(withoutFilter);
    return {
      url,
      durationS: options.durationS,
      connections: options.connections,
      withFilter: a,
      withoutFilter: b,
      overhead: { rps: ratio(a.rps, b.rps), p50: ratio(a.latencyMs.p50, b.latencyMs.p50), p99: ratio(a.latencyMs.p99, b.latencyMs.p99) },
      memory: { before, after },
      startedRun: sup !== undefined,
    };
  } finally {
    await baseline?.stop(3000);
    if (sup !== undefined) {
      sup.stop();
      await supervising?.catch(() => {});
    }
  }
}

interface Sample {
  latencies: number[];
  seconds: number;
  errors: number;
  non2xx: number;
}

async function load(url: string, o: BenchOptions, seconds: number): Promise<Sample> {
  const { default: autocannon } = await import("autocannon");
  const latencies: number[] = [];
  let non2xx = 0;
  const started = performance.now();
  let finish!: (r: { errors: number }) => void;
  let fail!: (e: Error) => void;
  const done = new Promise<{ errors: number }>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const instance = autocannon(
    {
      url,
      duration: seconds,
      connections: o.connections,
      method: o.method as "GET",
      headers: o.headers,
      body: o.body,
      overallRate: o.rate,
    },
    (error, result) => (error === null || error === undefined ? finish(result) : fail(error instanceof Error ? error : new Error(String(error)))),
  );
  instance.on("response", (_client: unknown, status: number, _bytes: number, time: number) => {
    if (latencies.length < 2_000_000) latencies.push(time);
    if (status < 200 || status > 299) non2xx++;
  });
  const result = await done;
  return { latencies, seconds: (performance.now() - started) / 1000, errors: result.errors, non2xx };
}

function summarize(samples: Sample[]): LoadResult {
  const latencies = samples.flatMap((s) => s.latencies).sort((x, y) => x - y);
  const seconds = samples.reduce((t, s) => t + s.seconds, 0);
  const at = (q: number) => (latencies.length === 0 ? 0 : latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!);
  const histogram = [...BUCKETS, null].map((upToMs) => ({ upToMs, count: 0 }));
  for (const l of latencies) histogram[BUCKETS.findIndex((b) => l < b) === -1 ? BUCKETS.length : BUCKETS.findIndex((b) => l < b)]!.count++;
  const round = (n: number) => Math.round(n * 1000) / 1000;
  return {
    requests: latencies.length,
    rps: Math.round(latencies.length / Math.max(seconds, 0.001)),
    latencyMs: {
      p50: round(at(0.5)),
      p90: round(at(0.9)),
      p99: round(at(0.99)),
      mean: round(latencies.reduce((t, l) => t + l, 0) / Math.max(1, latencies.length)),
      max: round(latencies[latencies.length - 1] ?? 0),
    },
    errors: samples.reduce((t, s) => t + s.errors, 0),
    non2xx: samples.reduce((t, s) => t + s.non2xx, 0),
    histogram,
  };
}

function ratio(a: number, b: number): number {
  return b === 0 ? 0 : Math.round((a / b) * 1000) / 1000;
}

async function memory(admin: number, envoyPid: number | undefined): Promise<MemorySample> {
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

/**
 * envoy.yaml without its Wasm filters, every port moved to a free one, in
 * front of the same backend: the same Envoy doing the same work, minus the
 * plugin. Returns the service and the port of the measured listener.
 */
async function startBaseline(
  root: string,
  stateDir: string,
  bootstrap: EnvoyBootstrap,
  listenerName: string,
  cwd: string,
): Promise<{ service: ProcessService; port: number }> {
  const data = structuredClone(bootstrap.data) as Record<string, unknown>;
  // Remove filters from the end of each list first, so earlier indexes stay right.
  const filters = [...bootstrap.wasmFilters].sort((a, b) => b.filterPath.join("/").localeCompare(a.filterPath.join("/"), undefined, { numeric: true }));
  for (const f of filters) {
    const list = get(data, f.filterPath.slice(0, -1)) as unknown[];
    list.splice(f.filterPath[f.filterPath.length - 1] as number, 1);
  }
  const ports = new Map<string, number>();
  for (const l of bootstrap.listeners) {
    const port = await freePort();
    ports.set(l.name, port);
    (get(data, l.addressPath) as Record<string, unknown>).port_value = port;
  }
  const adminPort = await freePort();
  if (bootstrap.admin !== undefined) (get(data, bootstrap.admin.addressPath) as Record<string, unknown>).port_value = adminPort;
  const dir = path.join(stateDir, "bench");
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, "envoy-baseline.yaml");
  await writeFileAtomic(
    file,
    `# Derived by envoywasm bench from ${bootstrap.display}: no Wasm filter, other ports.\n${new Document(data).toString({ lineWidth: 0 })}`,
  );
  const envoy = await locateEnvoy({ cwd }).catch(() => {
    throw new UserError("bench needs an Envoy on this machine for its baseline (an Envoy without the filter)", { hint: "`envoywasm envoy install`" });
  });
  const service = new ProcessService(
    {
      name: "baseline",
      file: envoy.path,
      args: ["-c", file, "--log-level", "warning", "--base-id", String(baseIdFor(root) + 1), "--concurrency", "1"],
      cwd: root,
      env: {},
      ports: [],
    },
    () => {},
  );
  await service.start();
  const deadline = Date.now() + 30_000;
  while ((await envoyState(adminPort)) !== "LIVE") {
    if (service.done) throw new UserError(`the baseline Envoy exited before it was ready: ${service.recentLines().slice(-3).join(" ")}`);
    if (Date.now() > deadline) throw new UserError("the baseline Envoy was not ready after 30 s");
    await new Promise((r) => setTimeout(r, 50));
  }
  return { service, port: ports.get(listenerName)! };
}
