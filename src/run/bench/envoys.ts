import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { visit, type Document } from "yaml";
import { CancelledError, UserError } from "../../errors.js";
import { ecdsStatus } from "../../envoy/admin.js";
import { boundPorts, parseBootstrap, type EnvoyBootstrap } from "../../envoy/bootstrap.js";
import { deriveConfig } from "../../envoy/derive.js";
import { delay } from "../../platform/time.js";
import { backendTarget } from "../../project/backend.js";
import type { Project } from "../../project/config.js";
import { projectPaths } from "../../project/paths.js";
import { writeDerived } from "../derived-files.js";
import type { ServicePlan } from "../plan.js";
import { preparePlan } from "../prepare.js";
import { baseIdFor, controlSocketPath } from "../run-ids.js";
import { asTheUserWroteIt, remapPorts, startingOnFreePorts } from "../side-config.js";
import type { RunOutcome } from "../supervisor/records.js";
import { liveRun, readState } from "../supervisor/state.js";
import { Supervisor } from "../supervisor/supervise.js";
import { noopFilter, type NoopFilter } from "./noop-filter.js";

/**
 * bench's three Envoys, its own (never the running `up`'s), from envoy.yaml
 * with every port moved to a free one and no access log, in front of one
 * backend, started and stopped by one Supervisor as `envoywasm test` runs
 * its Envoy: `plugin` runs the project's plugin as `up` builds it;
 * `floor` the same config with the toolchain's no-op filter in its place;
 * `baseline` the same config without any Wasm filter. All three with the
 * same flags: Envoy's log level for the plugin too (not `up`'s wasm:debug),
 * `up`'s concurrency. Files under .envoywasm/bench-run/.
 */

export type Variant = "baseline" | "floor" | "plugin";
export const VARIANTS: readonly Variant[] = ["baseline", "floor", "plugin"];

export interface BenchEnvoys {
  /** Each Envoy's port for the measured listener, and its admin port. */
  ports: Record<Variant, { listener: number; admin: number }>;
  noop: NoopFilter;
  envoyVersion: string;
  /** The flags that shape the data path, for the output. */
  shape: { logLevel: string; concurrency: number; accessLog: false };
  pid: (v: Variant) => Promise<number | undefined>;
  /** Throws when the run ended (Ctrl-C, an Envoy died). */
  check: () => void;
  /** Settles when the run ends. */
  ended: Promise<unknown>;
  stop: () => Promise<void>;
}

const SERVICE: Record<Variant, string> = { plugin: "envoy", floor: "floor", baseline: "baseline" };

export async function startBenchEnvoys(
  project: Project,
  bootstrap: EnvoyBootstrap,
  listener: string,
  options: { cwd: string; onPhase?: (text: string) => void },
): Promise<BenchEnvoys> {
  const paths = projectPaths(project, path.join(project.root, ".envoywasm", "bench-run"));
  const { state: running } = await liveRun(paths, project.root);
  if (running !== undefined)
    throw new UserError(`another envoywasm bench is running in this project (pid ${running.supervisor.pid})`, { hint: "wait for it to end, then run again" });

  const plugin = await remapPorts(project, bootstrap, paths.state, { edit: withoutAccessLogs });
  const backend = backendTarget(project, bootstrap);
  const seed = new Map(backend === undefined ? [] : [[backend.port, plugin.moved.get(backend.port)!]]);
  const floor = await remapPorts(project, bootstrap, paths.state, { file: "envoy-floor.yaml", moved: seed, edit: withoutAccessLogs });
  const baseline = await remapPorts(project, bootstrap, paths.state, {
    file: "envoy-baseline.yaml",
    moved: seed,
    edit: (doc) => {
      withoutAccessLogs(doc);
      // From the end of each list first, so earlier indexes stay right.
      const filters = [...bootstrap.wasmFilters].sort((a, b) => b.filterPath.join("/").localeCompare(a.filterPath.join("/"), undefined, { numeric: true }));
      for (const f of filters) doc.deleteIn(f.filterPath);
    },
  });

  const benchProject: Project = { ...project, config: { ...project.config, runtime: "native", envoy: { ...project.config.envoy, config: plugin.config } } };
  const logLevel = project.config.envoy.logLevel;
  const runId = `bench-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
  const prepared = await asTheUserWroteIt(plugin.config, bootstrap.display, () =>
    preparePlan(benchProject, paths, runId, {
      cwd: options.cwd,
      project: benchProject,
      wasmLogLevel: logLevel,
      baseId: baseIdFor(project.root) + 7,
      graceMs: 3_000,
      onPhase: options.onPhase,
    }),
  );
  const noop = await noopFilter(project, bootstrap, { envoyVersion: prepared.plan.envoy.version, onPhase: options.onPhase });

  const envoy = prepared.plan.services.find((s) => s.name === "envoy")!;
  const ports = { plugin: portsOf(await parsed(project, plugin.config, bootstrap.display), listener) } as BenchEnvoys["ports"];
  const services: ServicePlan[] = [];
  const floorEcds: { name: string; version: string }[] = [];
  for (const [variant, copy, baseOffset] of [
    ["floor", floor.config, 8],
    ["baseline", baseline.config, 9],
  ] as const) {
    const b = await parsed(project, copy, bootstrap.display);
    ports[variant] = portsOf(b, listener);
    const run = path.join(paths.run, variant);
    const derived = deriveConfig(b, {
      nodeId: project.config.name,
      ecdsDir: path.join(run, "ecds"),
      moduleFor: () => noop.wasm,
      envoyPath: (p) => p,
      openBinds: false,
    });
    await writeDerived({ run }, derived, false);
    if (variant === "floor") floorEcds.push(...derived.resources.map((r) => ({ name: r.name, version: r.version })));
    services.push({
      ...envoy,
      name: variant,
      args: withArg(withArg(envoy.args, "-c", path.join(run, "envoy.yaml")), "--base-id", String(baseIdFor(project.root) + baseOffset)),
      ports: boundPorts(b).map((p) => p.port),
      ready: { kind: "envoy-admin", port: ports[variant].admin },
    });
  }
  const plan = { ...prepared.plan, controlSocket: controlSocketPath(paths.state), watch: false, services: [...prepared.plan.services, ...services] };

  let ready!: () => void;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  const sup = new Supervisor(plan, { mode: "foreground", colour: false, onReady: () => ready(), onProgress: options.onPhase });
  let outcome: RunOutcome | undefined;
  const supervising = sup.run().then((o) => (outcome = o));
  const ended = (): RunOutcome | undefined => outcome;
  const stop = async () => {
    sup.stop();
    await supervising.catch(() => {});
  };
  const check = () => {
    const o = ended();
    if (o === undefined) return;
    if (o.kind === "stopped") throw new CancelledError(o.signal === "SIGINT" ? "SIGINT" : "SIGTERM");
    const service = o.service === "envoy" ? "plugin's Envoy" : o.service;
    throw new UserError(`bench's ${service} stopped: ${o.diagnosis?.message ?? o.lastLines.slice(-3).join(" ")}`, {
      hint: o.diagnosis?.hint ?? "its output is in .envoywasm/bench-run/logs/",
    });
  };
  try {
    options.onPhase?.(startingOnFreePorts(`three Envoys ${plan.envoy.version} (no filter, the no-op filter, the plugin)`, plan.services));
    await Promise.race([isReady, supervising.catch(() => {})]);
    check();
    // The supervisor waits for the plugin's ECDS config; the floor's is waited for here.
    await ecdsApplied(ports.floor.admin, floorEcds, check);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    ports,
    noop,
    envoyVersion: plan.envoy.version,
    shape: { logLevel, concurrency: Number(argOf(envoy.args, "--concurrency") ?? 1), accessLog: false },
    pid: async (v) => (await readState(paths.runState))?.services.find((s) => s.name === SERVICE[v])?.process?.pid,
    check,
    ended: supervising,
    stop,
  };
}

/** No access log anywhere: production does not write a line per request to stdout. */
function withoutAccessLogs(doc: Document): void {
  visit(doc, { Pair: (_, pair) => ((pair.key as { value?: unknown } | null)?.value === "access_log" ? visit.REMOVE : undefined) });
}

async function parsed(project: Project, relative: string, display: string): Promise<EnvoyBootstrap> {
  const file = path.join(project.root, relative);
  return parseBootstrap(await readFile(file, "utf8"), file, display);
}

function portsOf(b: EnvoyBootstrap, listener: string): { listener: number; admin: number } {
  return { listener: b.listeners.find((l) => l.name === listener)!.port, admin: b.admin!.port };
}

function argOf(args: readonly string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i === -1 ? undefined : args[i + 1];
}

function withArg(args: readonly string[], flag: string, value: string): string[] {
  const i = args.indexOf(flag);
  return i === -1 ? [...args, flag, value] : [...args.slice(0, i + 1), value, ...args.slice(i + 2)];
}

async function ecdsApplied(admin: number, resources: readonly { name: string; version: string }[], check: () => void): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (resources.length > 0) {
    check();
    const status = await ecdsStatus(
      admin,
      resources.map((r) => r.name),
    );
    const bad = resources.find((r) => (status?.get(r.name)?.rejected ?? 0) + (status?.get(r.name)?.failed ?? 0) > 0);
    if (bad !== undefined) throw new UserError(`Envoy rejected the no-op filter's config (${bad.name}): see .envoywasm/bench-run/logs/floor.log`);
    if (resources.every((r) => status?.get(r.name)?.version === r.version)) return;
    if (Date.now() > deadline) {
      const late = resources.find((r) => status?.get(r.name)?.version !== r.version)!;
      const seen = status?.get(late.name);
      const said =
        seen === undefined
          ? "its admin interface did not answer"
          : `its admin reports version "${seen.version}" of ${late.name} (want "${late.version}"), ${seen.succeeded} update(s) applied`;
      throw new UserError(`the no-op filter's config was not applied in 30 s: ${said}`, { hint: "see .envoywasm/bench-run/logs/floor.log" });
    }
    await delay(50);
  }
}
