import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { UserError } from "../errors.js";
import { boundPorts, failurePolicyIn } from "../envoy/bootstrap.js";
import { locateEnvoy, requireEnvoyForToolchain } from "../envoy/binary.js";
import { imageEnvoyVersion } from "../envoy/image.js";
import { connectDocker, CONTAINER_PROJECT, ensureImage, goArch, officialImage, pauseBinary, type PullPolicy } from "../platform/docker.js";
import { projectPaths, type ProjectPaths } from "../project/paths.js";
import { resolvePlugins } from "../build/plugins.js";
import { loadProject, type Project } from "../project/config.js";
import { toolchainFor } from "../build/toolchains.js";
import { pruneModules, writeDerived } from "./derived-files.js";
import { NEWEST_VERIFIED_ENVOY } from "../wasm/host-abi.js";
import { checkModule, inspectModule } from "../wasm/check.js";
import { buildBackend } from "../build/backend.js";
import { takeLock } from "./supervisor/lock.js";
import type { RunPlan, ServicePlan } from "./plan.js";
import { liveRun } from "./supervisor/state.js";
import { build, type BuildResult } from "../build/build.js";
import { readEnvoyConfig } from "../project/load.js";
import { tryRequests } from "./e2e/try-requests.js";
import { backendTarget } from "../project/backend.js";
import { deriveRun } from "./derived-files.js";
import { checkPorts } from "./port-check.js";
import { baseIdFor, containerUser, controlSocketPath } from "./run-ids.js";
import { DEFAULT_PORTS } from "../envoy/default-ports.js";

export interface UpOptions {
  cwd: string;
  /** The project, when the caller has loaded it already. */
  project?: Project;
  envoy?: string;
  logLevel?: string;
  wasmLogLevel?: string;
  concurrency?: number;
  baseId?: number;
  readyTimeoutMs?: number;
  graceMs?: number;
  /** Run in containers (also: runtime: docker in envoywasm.yaml). */
  docker?: boolean;
  envoyImage?: string;
  pull?: PullPolicy;
  /** Allow binds beyond loopback (envoy.yaml's 0.0.0.0, or publishing containers on every interface). */
  expose?: boolean;
  watch?: boolean;
  onPhase?: (text: string) => void;
  /** Progress of an image pull (often: draw it in place); undefined when it is over. */
  onPull?: (text: string | undefined) => void;
  onWarning?: (text: string) => void;
  onCompilerOutput?: (text: string) => void;
}

export interface Prepared {
  project: Project;
  paths: ProjectPaths;
  plan: RunPlan;
  build: BuildResult;
  /** What runs Envoy, for messages: a path, or an image. */
  envoyLabel: string;
  /** curl lines to send first requests through the plugin (the first e2e cases', else GET /). */
  tryLines: string[];
  /** Releases the project's lock (only if the run never starts). */
  release: () => Promise<void>;
}

/**
 * Everything `up` checks and builds before it starts anything, under the
 * project's lock: no other run, Envoy found (or its image) and new enough,
 * plugins and backend built, each module's imports fit this Envoy, every
 * port envoy.yaml binds free and on loopback, the config Envoy runs derived.
 * Returns the plan the supervisor runs.
 */
export async function prepareUp(options: UpOptions): Promise<Prepared> {
  const project = options.project ?? (await loadProject(options.cwd));
  const paths = projectPaths(project);
  const runId = `${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
  const lock = await takeLock(paths.lock, runId);
  try {
    const { leftovers } = await liveRun(paths, project.root);
    if (leftovers.length > 0) options.onWarning?.(`an earlier run ended without cleaning up; stopped what it left: ${leftovers.join(", ")}`);
    const prepared = await preparePlan(project, paths, runId, options);
    return { ...prepared, release: lock.release };
  } catch (error) {
    await lock.release();
    throw error;
  }
}

/** What prepareUp does once it holds the lock; `envoywasm test` calls it with paths of its own (it takes no lock). */
export async function preparePlan(project: Project, paths: ProjectPaths, runId: string, options: UpOptions): Promise<Omit<Prepared, "release">> {
  const { config } = project;
  const bootstrap = await readEnvoyConfig(project);
  const docker = options.docker === true || config.runtime === "docker";

  let envoyVersion: string;
  let envoyLabel: string;
  let envoyPath: string | undefined;
  let image: string | undefined;
  if (docker) {
    options.onPhase?.("connecting to the Docker engine");
    const client = await connectDocker();
    image = options.envoyImage ?? config.envoy.image ?? officialImage(config.envoy.version ?? NEWEST_VERIFIED_ENVOY);
    await ensureImage(client, image, options.pull ?? "missing", options.onPull ?? options.onPhase);
    options.onPull?.(undefined);
    envoyVersion = await imageEnvoyVersion(client, image);
    envoyLabel = `${image}, in Docker`;
    options.onPhase?.(`Envoy ${envoyVersion} (image ${image})`);
  } else {
    options.onPhase?.("finding Envoy");
    const envoy = await locateEnvoy({ cwd: options.cwd, config, projectRoot: project.root, flag: options.envoy });
    envoyVersion = envoy.version;
    envoyPath = envoy.path;
    envoyLabel = envoy.path;
    options.onPhase?.(`Envoy ${envoy.version} (${envoy.path}, from ${envoy.source})`);
  }
  requireEnvoyForToolchain({ version: envoyVersion, path: envoyLabel }, config.toolchain);

  options.onPhase?.("building");
  const built = await build({
    cwd: options.cwd,
    project,
    bootstrap,
    envoyVersion,
    onPhase: (p) => options.onPhase?.(p),
    onCompilerOutput: options.onCompilerOutput,
  });
  for (const p of built.plugins) {
    for (const warning of p.warnings) options.onWarning?.(warning);
    if (!p.upToDate) continue;
    // The last build checked imports against the pinned or newest Envoy; check this one.
    const check = checkModule(await inspectModule(await readFile(p.wasm)), { toolchain: config.toolchain, envoyVersion });
    if (check.errors.length > 0) {
      throw new UserError(`${p.wasmRelative} would not load in Envoy ${envoyVersion}:\n${check.errors.map((e) => `  - ${e}`).join("\n")}`, {
        hint: "use a newer Envoy (`envoywasm envoy install`, or another --envoy-image) or change the plugin",
      });
    }
  }
  const layout = resolvePlugins(project, bootstrap);
  for (const u of layout.unbuilt) {
    options.onWarning?.(`${bootstrap.display} loads ${u.wasm}, which no plugin folder in envoywasm.yaml builds; Envoy loads it as it is`);
  }

  const backend = backendTarget(project, bootstrap);
  let backendBin: string | undefined;
  if (backend !== undefined) {
    options.onPhase?.("building the backend");
    backendBin = (await buildBackend(project, paths, docker ? { GOOS: "linux", GOARCH: goArch(), CGO_ENABLED: "0" } : undefined)).bin;
  }

  options.onPhase?.("checking ports");
  await checkPorts(bootstrap, backend, options.expose === true || docker);

  // The config Envoy runs, and the module copies it loads.
  const { derived, ecds, modules, toEnvoy } = await deriveRun(project, paths, bootstrap, layout, built, docker);
  await writeDerived(paths, derived, docker);
  await pruneModules(paths, modules);

  const ports = boundPorts(bootstrap);
  const admin = bootstrap.admin;
  if (admin === undefined) {
    throw new UserError(`${bootstrap.display} has no admin interface (admin.address.socket_address)`, {
      hint: `envoywasm asks Envoy's admin interface whether it is ready; add \`admin: { address: { socket_address: { address: 127.0.0.1, port_value: ${DEFAULT_PORTS.admin} } } }\``,
    });
  }
  const baseId = options.baseId ?? baseIdFor(project.root);
  const logLevel = options.logLevel ?? config.envoy.logLevel;
  const envoyArgs = [
    "-c",
    toEnvoy(path.join(paths.run, "envoy.yaml")),
    "--log-level",
    logLevel,
    "--component-log-level",
    `wasm:${options.wasmLogLevel ?? "debug"}`,
    "--concurrency",
    String(options.concurrency ?? 1),
    "--drain-time-s",
    "1",
    ...(docker ? [] : ["--base-id", String(baseId)]),
  ];
  const services: ServicePlan[] = [];
  if (backend !== undefined) {
    services.push({
      name: "backend",
      file: docker ? toEnvoy(backendBin!) : backendBin!,
      args: [],
      cwd: docker ? toEnvoy(paths.backendDir!) : paths.backendDir!,
      env: { PORT: String(backend.port), HOST: docker ? "0.0.0.0" : "127.0.0.1" },
      ports: [backend.port],
      ready: { kind: "http", port: backend.port },
    });
  }
  services.push({
    name: "envoy",
    file: docker ? "envoy" : envoyPath!,
    args: envoyArgs,
    cwd: docker ? CONTAINER_PROJECT : project.root,
    env: {},
    ports: ports.map((p) => p.port),
    ready: { kind: "envoy-admin", port: admin.port },
  });

  let runtime: RunPlan["runtime"] = { kind: "native" };
  if (docker) {
    const go = await toolchainFor("go").detect();
    runtime = {
      kind: "docker",
      image: image!,
      mounts: [{ host: project.root, container: CONTAINER_PROJECT, readOnly: true }],
      publish: [...new Set([...ports.map((p) => p.port), ...(backend === undefined ? [] : [backend.port])])],
      publishAddress: options.expose === true ? "0.0.0.0" : "127.0.0.1",
      pauseBinary: await pauseBinary(go.version),
      ...containerUser(),
    };
  }

  const plan: RunPlan = {
    runId,
    root: project.root,
    name: config.name,
    logsDir: paths.logs,
    stateFile: paths.runState,
    lastRunFile: paths.lastRun,
    lockFile: paths.lock,
    controlSocket: controlSocketPath(project.root),
    runtime,
    envoyConfig: paths.envoyConfig,
    services,
    envoy: { version: envoyVersion, path: envoyPath, image },
    admin: admin.port,
    listeners: bootstrap.listeners.map((l) => ({ name: l.name, port: l.port })),
    ecds,
    modules: built.plugins.map((b) => ({ plugin: b.dir, wasm: b.wasmRelative, sha256: b.sha256 })),
    failurePolicy: failurePolicyIn(bootstrap),
    readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
    graceMs: options.graceMs ?? 5_000,
    watch: options.watch === true,
    live: {
      sources: {
        dirs: [...new Set(layout.plugins.map((p) => p.moduleDir)), ...(paths.backendDir === undefined ? [] : [paths.backendDir])],
        files: [paths.envoyConfig, project.file],
      },
      builtModules: layout.plugins.map((p) => ({ plugin: p.dir, file: p.wasmAbs })),
      skeletonHash: derived.skeletonHash,
    },
  };
  const tries = await tryRequests(project, bootstrap);
  for (const w of tries.warnings) options.onWarning?.(w);
  return { project, paths, plan, build: built, envoyLabel, tryLines: tries.requests.map((r) => r.curl) };
}
