import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { UserError } from "../errors.js";
import { failurePolicyIn, readEnvoyConfig, wasmPluginConfig } from "../lib/envoy-config.js";
import { locateEnvoy, requireEnvoyForToolchain, type EnvoyBinary } from "../lib/envoy.js";
import { projectPaths, type ProjectPaths } from "../lib/paths.js";
import { loadProject, type Project } from "../lib/project-config.js";
import { checkModule, inspectModule } from "../wasm/check.js";
import { build, type BuildResult } from "./build.js";
import { buildBackend } from "../run/backend.js";
import type { RunPlan } from "../run/plan.js";
import { findPortHolder, portInUse } from "../run/ports.js";
import { readState, reapLeftovers, removeState, supervisorAlive } from "../run/state.js";
import { validateEnvoyConfig } from "../run/validate.js";

export interface UpOptions {
  cwd: string;
  envoy?: string;
  logLevel?: string;
  wasmLogLevel?: string;
  concurrency?: number;
  baseId?: number;
  readyTimeoutMs?: number;
  graceMs?: number;
  onPhase?: (text: string) => void;
  onWarning?: (text: string) => void;
  onCompilerOutput?: (text: string) => void;
}

export interface Prepared {
  project: Project;
  paths: ProjectPaths;
  plan: RunPlan;
  envoy: EnvoyBinary;
  build: BuildResult;
}

/**
 * Everything `up` checks and builds before it starts anything: no other run
 * of this project, Envoy found and new enough, plugin and backend built, the
 * module's imports fit this Envoy, ports free, the config valid. Returns the
 * plan the supervisor runs.
 */
export async function prepareUp(options: UpOptions): Promise<Prepared> {
  const project = await loadProject(options.cwd);
  const paths = projectPaths(project);
  const { config } = project;

  if (config.runtime === "docker") {
    throw new UserError("runtime: docker is not implemented yet; envoywasm runs Envoy natively for now", {
      hint: "set `runtime: native` in envoywasm.yaml",
    });
  }
  const reaped = await checkNotRunning(paths);
  if (reaped.length > 0) options.onWarning?.(`an earlier run ended without cleaning up; stopped what it left: ${reaped.join(", ")}`);

  options.onPhase?.("finding Envoy");
  const envoy = await locateEnvoy({
    cwd: options.cwd,
    config,
    projectRoot: project.root,
    ...(options.envoy === undefined ? {} : { flag: options.envoy }),
  });
  options.onPhase?.(`Envoy ${envoy.version} (${envoy.path}, from ${envoy.source})`);
  requireEnvoyForToolchain(envoy, config.toolchain);

  options.onPhase?.("building the plugin");
  const built = await build({
    cwd: options.cwd,
    project,
    envoyVersion: envoy.version,
    onPhase: (p) => options.onPhase?.(p),
    ...(options.onCompilerOutput === undefined ? {} : { onCompilerOutput: options.onCompilerOutput }),
  });
  for (const warning of built.warnings) options.onWarning?.(warning);
  if (built.upToDate) {
    // The last build checked imports against the pinned or newest Envoy; check this one.
    const check = checkModule(await inspectModule(await readFile(paths.wasm)), { toolchain: config.toolchain, envoyVersion: envoy.version });
    if (check.errors.length > 0) {
      throw new UserError(`${config.plugin.wasm} would not load in Envoy ${envoy.version}:\n${check.errors.map((e) => `  - ${e}`).join("\n")}`, {
        hint: "use a newer Envoy (`envoywasm envoy install`) or change the plugin",
      });
    }
  }

  options.onPhase?.("building the backend");
  const backend = await buildBackend(project, paths);

  options.onPhase?.("checking ports");
  await checkPorts(config.ports);

  const envoyConfig = await readEnvoyConfig(paths.envoyConfig);
  for (const warning of consistencyWarnings(project, paths, envoyConfig)) options.onWarning?.(warning);
  options.onPhase?.("validating envoy.yaml");
  await validateEnvoyConfig(paths, project.root, config.envoy.config, envoy);

  const baseId = options.baseId ?? baseIdFor(project.root);
  const logLevel = options.logLevel ?? config.envoy.logLevel;
  const plan: RunPlan = {
    root: project.root,
    logsDir: paths.logs,
    stateFile: paths.runState,
    envoy: { path: envoy.path, version: envoy.version, baseId },
    ports: config.ports,
    failurePolicy: failurePolicyIn(envoyConfig),
    readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
    graceMs: options.graceMs ?? 5_000,
    services: [
      {
        name: "backend",
        file: backend.bin,
        args: [],
        cwd: paths.backendDir,
        env: { PORT: String(config.ports.backend) },
        port: config.ports.backend,
        ready: { kind: "tcp", port: config.ports.backend },
        match: backend.bin,
      },
      {
        name: "envoy",
        file: envoy.path,
        args: [
          "-c",
          config.envoy.config,
          "--log-level",
          logLevel,
          "--component-log-level",
          `wasm:${options.wasmLogLevel ?? "debug"}`,
          "--base-id",
          String(baseId),
          "--concurrency",
          String(options.concurrency ?? 1),
          "--drain-time-s",
          "1",
        ],
        cwd: project.root,
        env: {},
        port: config.ports.listener,
        ready: { kind: "envoy-admin", port: config.ports.admin },
        match: envoy.path,
      },
    ],
  };
  return { project, paths, plan, envoy, build: built };
}

/** A running project refuses a second `up`; a dead run's leftovers are stopped. */
async function checkNotRunning(paths: ProjectPaths): Promise<string[]> {
  const state = await readState(paths.runState);
  if (state === undefined) return [];
  if (supervisorAlive(state)) {
    throw new UserError(
      `this project is already running (${state.mode}, pid ${state.supervisorPid}, since ${state.startedAt})`,
      { hint: "see it with `envoywasm status` and `envoywasm logs -f`; stop it with `envoywasm down`" },
    );
  }
  const stopped = await reapLeftovers(state);
  await removeState(paths.runState);
  return stopped;
}

async function checkPorts(ports: { listener: number; admin: number; backend: number }): Promise<void> {
  for (const [name, port] of [
    ["listener", ports.listener],
    ["admin", ports.admin],
    ["backend", ports.backend],
  ] as const) {
    if (await portInUse(port)) {
      const holder = findPortHolder(port);
      const who = holder === undefined ? "another process" : `pid ${holder.pid} (${truncate(holder.command, 80)})`;
      throw new UserError(`port ${port} (${name}) is already in use by ${who}`, {
        hint: `stop that process, or choose another port: ports.${name} in envoywasm.yaml${name === "backend" ? "" : " and the matching port in envoy.yaml"}`,
      });
    }
  }
}

function truncate(text: string, n: number): string {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

/** A base id per project, so two projects' Envoys run side by side. */
export function baseIdFor(root: string): number {
  const h = createHash("sha256").update(path.resolve(root)).digest();
  return 1000 + (h.readUInt32BE(0) % 60_000);
}

/**
 * Where envoywasm.yaml and envoy.yaml disagree, Envoy follows envoy.yaml: say
 * so. An admin port that differs is an error: readiness is asked there.
 */
function consistencyWarnings(project: Project, paths: ProjectPaths, doc: unknown): string[] {
  const warnings: string[] = [];
  if (doc === undefined) return warnings;
  const text = JSON.stringify(doc);
  const { ports, plugin } = project.config;
  const adminPort = (doc as { admin?: { address?: { socket_address?: { port_value?: number } } } })?.admin?.address?.socket_address?.port_value;
  if (adminPort !== undefined && adminPort !== ports.admin) {
    // up asks the admin port whether Envoy is ready: a mismatch would only time out.
    throw new UserError(`envoy.yaml's admin port is ${adminPort}, but ports.admin in envoywasm.yaml is ${ports.admin}`, {
      hint: "make them the same: envoywasm asks Envoy's admin interface whether it is ready",
    });
  }
  const code = (wasmPluginConfig(doc)?.vm_config as { code?: { local?: { filename?: unknown } } } | undefined)?.code?.local?.filename;
  if (typeof code === "string" && path.resolve(project.root, code) !== paths.wasm) {
    warnings.push(`envoy.yaml loads ${code}, but envoywasm builds ${plugin.wasm} (plugin.wasm in envoywasm.yaml): Envoy will not run what you build`);
  }
  if (!text.includes(`"port_value":${ports.listener}`)) {
    warnings.push(`envoy.yaml has no listener on port ${ports.listener} (ports.listener in envoywasm.yaml)`);
  }
  if (!text.includes(`"port_value":${ports.backend}`)) {
    warnings.push(`envoy.yaml routes to no port ${ports.backend} (ports.backend in envoywasm.yaml)`);
  }
  const configuration = wasmPluginConfig(doc)?.configuration as { value?: unknown } | undefined;
  const configValue = typeof configuration?.value === "string" ? configuration.value : undefined;
  if (configValue !== undefined) {
    let parsed: unknown = configValue;
    try {
      parsed = JSON.parse(configValue);
    } catch {
      // Not JSON: compare as text.
    }
    if (JSON.stringify(parsed) !== JSON.stringify(plugin.config ?? {})) {
      warnings.push("the plugin configuration in envoy.yaml differs from plugin.config in envoywasm.yaml; Envoy uses envoy.yaml's");
    }
  }
  return warnings;
}


