import { createHash, randomBytes } from "node:crypto";
import { copyFile, mkdir, readFile, rename } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { UserError } from "../errors.js";
import { boundPorts, failurePolicyIn, get, isAnyAddress, isLoopback, loadBootstrap, type EnvoyBootstrap } from "../envoy/bootstrap.js";
import { locateEnvoy, requireEnvoyForToolchain } from "../envoy/binary.js";
import { deriveConfig } from "../envoy/derive.js";
import { imageEnvoyVersion } from "../envoy/image.js";
import { connectDocker, CONTAINER_PROJECT, ensureImage, goArch, officialImage, pauseBinary, type PullPolicy } from "../platform/docker.js";
import { shellQuote } from "../platform/exec.js";
import { projectPaths, type ProjectPaths } from "../project/paths.js";
import { resolvePlugins, type PluginLayout } from "../build/plugins.js";
import { loadProject, type Project } from "../project/config.js";
import { toolchainFor } from "../build/toolchains.js";
import { pruneModules, writeDerived } from "./derived-files.js";
import { NEWEST_VERIFIED_ENVOY } from "../wasm/host-abi.js";
import { checkModule, inspectModule } from "../wasm/check.js";
import { buildBackend } from "../build/backend.js";
import { takeLock } from "./supervisor/lock.js";
import type { EcdsPlan, RunPlan, ServicePlan } from "./plan.js";
import { findPortHolder, portInUse } from "../platform/ports.js";
import { liveRun } from "./supervisor/state.js";
import { build, type BuildResult } from "../build/build.js";
import { openToContainer } from "../platform/files.js";

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
  /** curl lines to send a first request through the plugin (envoywasm.yaml's try:, else GET /). */
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
    const prepared = await prepare(project, paths, runId, options);
    return { ...prepared, release: lock.release };
  } catch (error) {
    await lock.release();
    throw error;
  }
}

async function prepare(project: Project, paths: ProjectPaths, runId: string, options: UpOptions): Promise<Omit<Prepared, "release">> {
  const { config } = project;
  const bootstrap = await loadBootstrap(paths.envoyConfig, config.envoy.config);
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
    const envoy = await locateEnvoy({ cwd: options.cwd, config, projectRoot: project.root, ...(options.envoy === undefined ? {} : { flag: options.envoy }) });
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
    ...(options.onCompilerOutput === undefined ? {} : { onCompilerOutput: options.onCompilerOutput }),
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
      hint: "envoywasm asks Envoy's admin interface whether it is ready; add `admin: { address: { socket_address: { address: 127.0.0.1, port_value: 8001 } } }`",
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
    envoy: { version: envoyVersion, ...(envoyPath === undefined ? {} : { path: envoyPath }), ...(image === undefined ? {} : { image }) },
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
        dirs: [...layout.plugins.map((p) => p.absDir), ...(paths.backendDir === undefined ? [] : [paths.backendDir])],
        files: [paths.envoyConfig, project.file],
      },
      builtModules: layout.plugins.map((p) => ({ plugin: p.dir, file: p.wasmAbs })),
      skeletonHash: derived.skeletonHash,
    },
  };
  const tries = tryRequests(project, bootstrap);
  for (const w of tries.warnings) options.onWarning?.(w);
  return { project, paths, plan, build: built, envoyLabel, tryLines: tries.requests.map(curlLine) };
}

export interface TryRequest {
  method: string;
  /** http://127.0.0.1:<port of the plugin's listener><path> */
  url: string;
  headers: Record<string, string>;
}

const CONFIG_REFERENCE = /\{config\.([\w.-]+)\}/g;

/**
 * envoywasm.yaml's `try:` requests (default GET /), against the first
 * listener that runs a Wasm filter. A header name or value may say
 * `{config.<key>}`: it is taken from that filter's plugin configuration in
 * envoy.yaml, so a request that needs, say, the auth plugin's key does not
 * state the key a second time.
 */
export function tryRequests(project: Project, bootstrap: EnvoyBootstrap): { requests: TryRequest[]; warnings: string[] } {
  const listener = bootstrap.listeners.find((l) => bootstrap.wasmFilters.some((f) => f.listener === l.name)) ?? bootstrap.listeners[0];
  if (listener === undefined) return { requests: [], warnings: [] };
  const warnings: string[] = [];
  let config: Record<string, unknown> | undefined;
  const configuration = bootstrap.wasmFilters.find((f) => f.listener === listener.name)?.configuration;
  try {
    const parsed: unknown = JSON.parse(configuration ?? "");
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) config = parsed as Record<string, unknown>;
  } catch {
    // Not JSON: references cannot be resolved (said below, if there are any).
  }
  const resolve = (text: string) =>
    text.replace(CONFIG_REFERENCE, (reference: string, key: string) => {
      const value = get(config, key.split("."));
      if (typeof value === "string" || typeof value === "number") return String(value);
      warnings.push(`try: ${reference} is not in the plugin configuration of listener ${listener.name} in ${bootstrap.display}`);
      return reference;
    });
  const requests = (project.config.try ?? [{ path: "/" }]).map((r) => ({
    method: r.method ?? "GET",
    url: `http://127.0.0.1:${listener.port}${resolve(r.path)}`,
    headers: Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [resolve(k), resolve(v)])),
  }));
  return { requests, warnings };
}

/** A try: request as a curl line that works as printed. */
export function curlLine(r: TryRequest): string {
  const parts = ["curl", "-i"];
  if (r.method !== "GET") parts.push("-X", r.method);
  for (const [k, v] of Object.entries(r.headers)) parts.push("-H", shellQuote(`${k}: ${v}`));
  parts.push(r.url);
  return parts.join(" ");
}

/**
 * The config Envoy runs for a project as it is on disk now (see derive.ts),
 * with a hash-named copy of each built module, and which filter serves which
 * plugin. Used by `up` and by every reload.
 */
export async function deriveRun(project: Project, paths: ProjectPaths, bootstrap: EnvoyBootstrap, layout: PluginLayout, built: BuildResult, docker: boolean) {
  const toEnvoy = (host: string) => (docker ? `${CONTAINER_PROJECT}/${path.relative(project.root, host).split(path.sep).join("/")}` : host);
  const copies = new Map<string, string>();
  for (const p of layout.plugins) copies.set(p.wasmAbs, await moduleCopy(paths, p.dir, p.wasmAbs, built.plugins.find((b) => b.dir === p.dir)!.sha256, docker));
  const derived = deriveConfig(bootstrap, {
    nodeId: project.config.name,
    ecdsDir: path.join(paths.run, "ecds"),
    moduleFor: (filter) => (filter.filename === undefined ? undefined : copies.get(path.resolve(project.root, filter.filename))),
    envoyPath: toEnvoy,
    openBinds: docker,
  });
  const ecds: EcdsPlan[] = derived.resources.map((r) => {
    const plugin = layout.plugins.find((p) => p.filters.includes(r.filter));
    const sha = plugin === undefined ? undefined : built.plugins.find((b) => b.dir === plugin.dir)?.sha256;
    return { name: r.name, file: r.file, version: r.version, ...(plugin === undefined ? {} : { plugin: plugin.dir }), ...(sha === undefined ? {} : { sha256: sha }) };
  });
  return { derived, ecds, modules: new Set(copies.values()), toEnvoy };
}

export interface BackendTarget {
  cluster: string;
  port: number;
}

/**
 * The backend serves one of envoy.yaml's clusters, on that cluster's
 * loopback port: backend.cluster, else the cluster named "backend", else the
 * only cluster whose endpoints are all on loopback.
 */
export function backendTarget(project: Project, bootstrap: EnvoyBootstrap): BackendTarget | undefined {
  const backend = project.config.backend;
  if (backend === undefined) return undefined;
  const envoyPorts = new Set(boundPorts(bootstrap).map((p) => p.port));
  const loopbackOnly = bootstrap.clusters.filter((c) => c.endpoints.length > 0 && c.endpoints.every((e) => isLoopback(e.address) || isAnyAddress(e.address)) && !c.endpoints.some((e) => envoyPorts.has(e.port)));
  const named = backend.cluster ?? "backend";
  const cluster = bootstrap.clusters.find((c) => c.name === named) ?? (backend.cluster === undefined && loopbackOnly.length === 1 ? loopbackOnly[0] : undefined);
  if (cluster === undefined) {
    throw new UserError(`${bootstrap.display} has no cluster "${named}" for the backend to serve (clusters: ${bootstrap.clusters.map((c) => c.name).join(", ") || "none"})`, {
      hint: "name the cluster the backend serves with backend.cluster in envoywasm.yaml, or remove backend: when the project has none",
    });
  }
  const endpoint = cluster.endpoints[0];
  if (endpoint === undefined || !(isLoopback(endpoint.address) || isAnyAddress(endpoint.address))) {
    throw new UserError(`cluster ${cluster.name} (${cluster.where}) does not point at this machine, so the backend cannot serve it`, {
      hint: `point its endpoint at 127.0.0.1:<port> in ${bootstrap.display}`,
    });
  }
  return { cluster: cluster.name, port: endpoint.port };
}

/**
 * Every port Envoy binds, and the backend's: each must be free, and on
 * loopback unless exposing was asked for (Envoy's admin interface can shut
 * Envoy down and dumps its config).
 */
async function checkPorts(bootstrap: EnvoyBootstrap, backend: BackendTarget | undefined, allowAny: boolean): Promise<void> {
  const wanted = boundPorts(bootstrap).map((p) => ({ ...p, hint: `change the port in ${p.where}` }));
  if (backend !== undefined) wanted.push({ what: `backend (cluster ${backend.cluster})`, address: "127.0.0.1", port: backend.port, where: bootstrap.display, hint: `change the cluster's port in ${bootstrap.display}` });
  const seen = new Map<number, string>();
  for (const p of wanted) {
    const other = seen.get(p.port);
    if (other !== undefined) throw new UserError(`port ${p.port} is used twice in ${bootstrap.display}: by ${other} and by ${p.what}`, { hint: "give each its own port" });
    seen.set(p.port, p.what);
    if (!allowAny && !isLoopback(p.address)) {
      throw new UserError(`${p.where}: ${p.what} binds ${p.address}:${p.port}, which other machines can reach${p.what === "admin" ? " (the admin interface can shut Envoy down and dumps its config)" : ""}`, {
        hint: "bind 127.0.0.1 in envoy.yaml, or run `envoywasm up --expose` to run it as written",
      });
    }
    if (await portInUse(p.port, isAnyAddress(p.address) ? "0.0.0.0" : "127.0.0.1")) {
      const holder = findPortHolder(p.port);
      const who = holder === undefined ? "another process" : `pid ${holder.pid} (${holder.command.length > 80 ? `${holder.command.slice(0, 79)}…` : holder.command})`;
      throw new UserError(`port ${p.port} (${p.what}, ${p.where}) is already in use by ${who}`, { hint: `stop that process, or ${p.hint}` });
    }
  }
}

/** A copy of a module named by its hash, the file Envoy loads, so a rebuild never changes what serves. */
export async function moduleCopy(paths: ProjectPaths, pluginDir: string, wasm: string, sha256: string, forContainer: boolean): Promise<string> {
  await mkdir(paths.modules, { recursive: true });
  const slug = path.posix.normalize(pluginDir).replace(/[^A-Za-z0-9._-]+/g, "_");
  const file = path.join(paths.modules, `${slug}-${sha256.slice(0, 12)}.wasm`);
  const current = await readFile(file).catch(() => undefined);
  if (current === undefined || createHash("sha256").update(current).digest("hex") !== sha256) {
    const temp = `${file}.${process.pid}.tmp`;
    await copyFile(wasm, temp);
    await rename(temp, file);
  }
  if (forContainer) await openToContainer(file);
  return file;
}

/** Removes module copies nothing loads any more. */
/** Containers run as whoever runs envoywasm (see DockerRuntime); Envoy's image user where there are no uids. */
function containerUser(): { user: string; groups: number[] } {
  if (process.getuid === undefined || process.getgid === undefined) return { user: "101:101", groups: [] };
  const gid = process.getgid();
  return { user: `${process.getuid()}:${gid}`, groups: (process.getgroups?.() ?? []).filter((g) => g !== gid) };
}

/** A base id per project, so two projects' Envoys run side by side. */
export function baseIdFor(root: string): number {
  const h = createHash("sha256").update(path.resolve(root)).digest();
  return 1000 + (h.readUInt32BE(0) % 60_000);
}

/** The supervisor's control socket: short enough for any project path (sockets allow ~100 bytes). */
export function controlSocketPath(root: string): string {
  const h = createHash("sha256").update(path.resolve(root)).digest("hex").slice(0, 16);
  const dir = process.env.XDG_RUNTIME_DIR !== undefined && process.env.XDG_RUNTIME_DIR !== "" ? process.env.XDG_RUNTIME_DIR : os.tmpdir();
  return path.join(dir, `envoywasm-${h}.sock`);
}
