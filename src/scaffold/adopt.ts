import { existsSync, realpathSync } from "node:fs";
import { lstat, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { isMap, parseDocument, YAMLSeq, type Document } from "yaml";
import { ChildProcessError, UsageError, UserError } from "../errors.js";
import { get, isAnyAddress, isLoopback, parseBootstrap, type DocPath } from "../envoy/bootstrap.js";
import { run, tailLines } from "../platform/exec.js";
import { NAME_PATTERN, NAME_RULE, type Toolchain } from "../project/config.js";
import { BlockText, pinnedSdk, render, SDK_MODULES, type PlannedFile } from "./templates.js";
import { writePlan, type WriteReport } from "./write-plan.js";
import { templateValues } from "./init.js";
import { cargoMetadata, type CargoPackage } from "../build/cargo.js";
import { rewriteCargoToml } from "./cargo-manifest.js";

/**
 * `envoywasm init --from <folder>`: make a project of a Go or Rust proxy-wasm
 * plugin that already exists (a folder of an SDK's examples/, or a user's own
 * repository). The source folder is copied, never edited. In the copy, go.mod
 * loses the `replace` directives that point outside the folder and gets the
 * SDK version the templates pin; a Cargo.toml depends on the proxy-wasm crate
 * from crates.io instead of a path outside the folder and stands on its own
 * outside its workspace (cargo-manifest.ts). The folder's envoy.yaml is taken
 * over with each change said in one line; a backend is added when a cluster
 * leaves the machine.
 */

export interface AdoptOptions {
  cwd: string;
  from: string;
  dir?: string;
  name?: string;
  listenerPort?: string;
  adminPort?: string;
  backendPort?: string;
  force?: boolean;
  /** Told each step as it starts. */
  onPhase?: (text: string) => void;
}

export interface AdoptResult {
  dir: string;
  name: string;
  toolchain: Toolchain;
  /** One line per change made to the copy (go.mod, envoy.yaml). */
  changes: string[];
  files: WriteReport;
  /** Where to send a first request, from the adopted envoy.yaml. */
  listenerPort?: number;
  hasBackend: boolean;
}

const PLUGIN_DIR = "plugin";
const BACKEND_DIR = "backend";
/** Not copied: build output, VCS and editor state, envoywasm's own state, and the config taken over at the root. */
const SKIP = new Set([".git", ".envoywasm", "build", "target", "node_modules", ".idea", ".vscode", ".DS_Store"]);
const ENVOY_CONFIGS = ["envoy.yaml", "envoy.yml"];

export async function adopt(options: AdoptOptions): Promise<AdoptResult> {
  const source = path.resolve(options.cwd, options.from);
  const stat = await lstat(source).catch(() => undefined);
  if (stat === undefined || !stat.isDirectory()) throw new UsageError(`--from ${options.from}: no such folder`);
  const rust = !existsSync(path.join(source, "go.mod")) && existsSync(path.join(source, "Cargo.toml"));
  if (!rust && !existsSync(path.join(source, "go.mod"))) {
    throw new UserError(`${options.from} has no go.mod or Cargo.toml: --from takes the folder of a Go proxy-wasm plugin (its own Go module) or a Rust one (its own Cargo package)`, {
      hint: "point --from at the folder that holds the plugin's main.go and go.mod, or its src/ and Cargo.toml",
    });
  }
  const dir = path.resolve(options.cwd, options.dir ?? ".");
  if (dir === source || dir.startsWith(source + path.sep)) {
    throw new UsageError("the new project must be outside the folder it adopts (that folder is copied, never edited)", {
      hint: `e.g. envoywasm init --from ${options.from} ../${path.basename(source)}-project`,
    });
  }
  const name = options.name ?? nameFor(dir);
  if (!NAME_PATTERN.test(name)) {
    throw new UsageError(`cannot make a project name from ${JSON.stringify(path.basename(dir))}`, { hint: `pass --name <name> (${NAME_RULE})` });
  }

  const gomod = rust ? undefined : await goModJson(source);
  const cargo = rust ? await cargoPackage(source) : undefined;
  const toolchain: Toolchain = rust ? "rust" : gomod!.Require?.some((r) => r.Path === SDK_MODULES.tinygo) === true ? "tinygo" : "go";
  const changes: string[] = [];

  const configFile = ENVOY_CONFIGS.map((f) => path.join(source, f)).find((f) => existsSync(f));
  const backendPort = options.backendPort === undefined ? undefined : Number(options.backendPort);
  const files: PlannedFile[] = await copyPlan(source, PLUGIN_DIR);
  if (cargo !== undefined) {
    // The copy's Cargo.toml is planned as it will build, before anything is written.
    const manifest = files.find((f) => f.path === `${PLUGIN_DIR}/Cargo.toml`)!;
    const rewritten = rewriteCargoToml(String(manifest.contents), {
      source,
      display: manifest.path,
      sdkVersion: (await pinnedSdk("rust")).version,
      parentWorkspace: cargo.parentWorkspace,
      resolved: cargo.pkg,
    });
    manifest.contents = rewritten.text;
    changes.push(...rewritten.changes);
    // A member's versions are pinned in its workspace's lock: start from it (cargo fetch keeps this package's part).
    const workspaceLock = cargo.parentWorkspace === undefined ? undefined : path.join(cargo.parentWorkspace, "Cargo.lock");
    if (workspaceLock !== undefined && existsSync(workspaceLock) && !files.some((f) => f.path === `${PLUGIN_DIR}/Cargo.lock`)) {
      files.push({ path: `${PLUGIN_DIR}/Cargo.lock`, contents: await readFile(workspaceLock) });
      changes.push(`${PLUGIN_DIR}/Cargo.lock: copied from the workspace (${workspaceLock}), so the crates keep their versions`);
    }
  }
  let envoyYaml: string;
  let hasBackend: boolean;
  let backendCluster: string | undefined;
  let listenerPort: number | undefined;
  const values = templateValues({
    name,
    template: "headers",
    toolchain,
    listenerPort: Number(options.listenerPort ?? 8085),
    adminPort: Number(options.adminPort ?? 8001),
    backendPort: backendPort ?? 8080,
    // A rust plugin has no Go module path; the backend's is made from this one.
    module: gomod?.Module.Path ?? `example.com/${name}/plugin`,
  });
  if (configFile !== undefined) {
    const taken = takeOverEnvoyConfig(await readFile(configFile, "utf8"), path.relative(options.cwd, configFile), {
      wasm: `build/${name}.wasm`,
      listenerPort: options.listenerPort === undefined ? undefined : Number(options.listenerPort),
      adminPort: options.adminPort === undefined ? undefined : Number(options.adminPort),
      backendPort,
    });
    envoyYaml = taken.text;
    changes.push(...taken.changes);
    hasBackend = taken.backendCluster !== undefined;
    backendCluster = taken.backendCluster;
    listenerPort = taken.listenerPort;
  } else {
    changes.push(`${path.basename(source)} has no envoy.yaml: wrote a fresh one (listener 127.0.0.1:${values.listenerPort}, the plugin, the backend)`);
    envoyYaml = "";
    hasBackend = true;
    backendCluster = "backend";
    listenerPort = Number(values.listenerPort);
  }

  const rendered = await render({ template: "headers", toolchain, values: { ...values, pluginConfigBlock: new BlockText("{}") }, pluginDir: PLUGIN_DIR, backendDir: BACKEND_DIR });
  for (const file of rendered) {
    if (file.path === "envoy.yaml") files.push({ path: "envoy.yaml", contents: envoyYaml === "" ? file.contents : envoyYaml });
    else if (file.path === "envoywasm.yaml") files.push({ path: file.path, contents: projectFile(String(file.contents), hasBackend, backendCluster) });
    else if (file.path === ".gitignore") files.push(file);
    // cargo's target/ (the toolchain's own ignore file), unless the folder brought one.
    else if (file.path === `${PLUGIN_DIR}/.gitignore` && !files.some((f) => f.path === file.path)) files.push(file);
    else if (hasBackend && file.path.startsWith(`${BACKEND_DIR}/`)) files.push(file);
  }

  const report = await writePlan(dir, files, options.force === true);
  const pluginDir = path.join(dir, PLUGIN_DIR);
  const manifest = `${PLUGIN_DIR}/${gomod === undefined ? "Cargo.toml" : "go.mod"}`;
  if (!report.created.includes(manifest)) {
    changes.push(`${manifest} was already there: left as it is`);
  } else if (gomod !== undefined) {
    changes.push(...(await repairGoMod(pluginDir, source, gomod, toolchain, options.onPhase)));
  } else {
    changes.push(await fetchCrates(pluginDir, files.some((f) => f.path === `${PLUGIN_DIR}/Cargo.lock`), options.onPhase));
  }
  return { dir, name, toolchain, changes, files: report, listenerPort, hasBackend };
}

/** The original's package as cargo reads it, when it is a proxy-wasm plugin. */
async function cargoPackage(source: string): Promise<{ pkg: CargoPackage; parentWorkspace?: string }> {
  const { meta, pkg } = await cargoMetadata(source);
  if (pkg === undefined) throw new UserError(`cargo found no package in ${path.join(source, "Cargo.toml")}`, { hint: "--from takes the folder of one plugin's Cargo package, not a virtual workspace" });
  if (!pkg.dependencies.some((d) => d.name === SDK_MODULES.rust && d.kind === null)) {
    throw new UserError(`${path.join(source, "Cargo.toml")} does not depend on the ${SDK_MODULES.rust} crate: --from takes a proxy-wasm plugin`, {
      hint: "point --from at the folder of a plugin built on the proxy-wasm crate",
    });
  }
  const root = path.resolve(meta.workspace_root);
  return { pkg, parentWorkspace: root === realpathSync(source) ? undefined : root };
}

/** In the copy: cargo resolves the crates (a Cargo.lock written, or updated for a dependency rewritten) and downloads them. */
async function fetchCrates(pluginDir: string, hadLock: boolean, onPhase?: (t: string) => void): Promise<string> {
  onPhase?.("cargo fetch");
  const fetch = await run("cargo", ["fetch"], { cwd: pluginDir, timeoutMs: 300_000 });
  if (fetch.exitCode !== 0) {
    throw new ChildProcessError(`cargo fetch failed in ${PLUGIN_DIR}/ of the new project`, {
      command: fetch.command,
      output: tailLines(fetch.all, 20),
      hint: `its output:\n${tailLines(fetch.all, 10)}`,
    });
  }
  return `${PLUGIN_DIR}/Cargo.lock: ${hadLock ? "brought up to date" : "written"} by cargo fetch, which resolved and downloaded the crates`;
}

function nameFor(dir: string): string {
  return path.basename(dir).toLowerCase().replace(/[_ .]+/g, "-").replace(/^-+|-+$/g, "");
}

interface GoModJson {
  Module: { Path: string };
  Require?: { Path: string; Version: string }[];
  Replace?: { Old: { Path: string; Version?: string }; New: { Path: string; Version?: string } }[];
}

async function goModJson(dir: string): Promise<GoModJson> {
  const result = await run("go", ["mod", "edit", "-json"], { cwd: dir, timeoutMs: 30_000 });
  if (result.spawnError !== undefined) throw new UserError("the go toolchain was not found on PATH", { hint: "install Go 1.24 or newer (https://go.dev/dl/)" });
  if (result.exitCode !== 0) {
    throw new UserError(`cannot read ${path.join(dir, "go.mod")}: ${result.stderr.trim().split("\n")[0] ?? ""}`, { hint: "fix the go.mod of the folder to adopt" });
  }
  return JSON.parse(result.stdout) as GoModJson;
}

/** Every file of the source folder, to go under `to/` in the project. */
async function copyPlan(source: string, to: string, rel = ""): Promise<PlannedFile[]> {
  const out: PlannedFile[] = [];
  for (const entry of await readdir(path.join(source, rel), { withFileTypes: true })) {
    const childRel = rel === "" ? entry.name : `${rel}/${entry.name}`;
    if (SKIP.has(entry.name)) continue;
    if (rel === "" && ENVOY_CONFIGS.includes(entry.name)) continue;
    if (entry.isDirectory()) out.push(...(await copyPlan(source, to, childRel)));
    else if (entry.isFile() && !entry.name.endsWith(".wasm")) {
      const full = path.join(source, childRel);
      const mode = (await lstat(full)).mode & 0o777;
      out.push({ path: `${to}/${childRel}`, contents: await readFile(full), mode });
    }
  }
  return out;
}

/**
 * In the copy: drop `replace` directives that point outside the adopted
 * folder (the SDK examples' `=> ../..`), require the SDK version the
 * templates pin where the folder relied on such a replace, then `go mod tidy`.
 */
async function repairGoMod(pluginDir: string, source: string, gomod: GoModJson, toolchain: Toolchain, onPhase?: (t: string) => void): Promise<string[]> {
  const changes: string[] = [];
  const sdk = await pinnedSdk(toolchain);
  for (const r of gomod.Replace ?? []) {
    const target = r.New.Path;
    if (r.New.Version !== undefined || !(target.startsWith(".") || target.startsWith("/"))) continue;
    const resolved = path.resolve(source, target);
    if (resolved === source || resolved.startsWith(source + path.sep)) continue;
    await goModEdit(pluginDir, [`-dropreplace=${r.Old.Path}${r.Old.Version === undefined ? "" : `@${r.Old.Version}`}`]);
    changes.push(`${PLUGIN_DIR}/go.mod: dropped \`replace ${r.Old.Path} => ${target}\` (it points outside the adopted folder)`);
    if (r.Old.Path === sdk.module) {
      await goModEdit(pluginDir, [`-require=${sdk.module}@${sdk.version}`]);
      changes.push(`${PLUGIN_DIR}/go.mod: requires ${sdk.module}@${sdk.version}, the version envoywasm's templates pin`);
    } else {
      const required = gomod.Require?.find((q) => q.Path === r.Old.Path);
      if (required === undefined || required.Version.startsWith("v0.0.0-00010101000000")) {
        throw new UserError(`go.mod replaced ${r.Old.Path} with ${target}, outside the adopted folder, and requires no published version of it`, {
          hint: `require a published version of ${r.Old.Path} in the copy (${PLUGIN_DIR}/go.mod), then run \`go mod tidy\` there`,
        });
      }
    }
  }
  const sdkRequired = gomod.Require?.find((q) => q.Path === sdk.module);
  if (sdkRequired !== undefined && sdkRequired.Version.startsWith("v0.0.0-00010101000000") && !changes.some((c) => c.includes(sdk.version))) {
    await goModEdit(pluginDir, [`-require=${sdk.module}@${sdk.version}`]);
    changes.push(`${PLUGIN_DIR}/go.mod: requires ${sdk.module}@${sdk.version}, the version envoywasm's templates pin`);
  }
  onPhase?.("go mod tidy");
  const tidy = await run("go", ["mod", "tidy"], { cwd: pluginDir, env: { GOFLAGS: "-mod=mod" }, timeoutMs: 300_000 });
  if (tidy.exitCode !== 0) {
    throw new ChildProcessError(`go mod tidy failed in ${PLUGIN_DIR}/ of the new project`, {
      command: tidy.command,
      output: tailLines(tidy.all, 20),
      hint: `its output:\n${tailLines(tidy.all, 10)}`,
    });
  }
  changes.push(`${PLUGIN_DIR}/go.mod, go.sum: tidied (go mod tidy)`);
  return changes;
}

async function goModEdit(dir: string, args: string[]): Promise<void> {
  const r = await run("go", ["mod", "edit", ...args], { cwd: dir });
  if (r.exitCode !== 0) throw new UserError(`go mod edit ${args.join(" ")} failed: ${r.stderr.trim()}`);
}

/** envoywasm.yaml from the template, without a backend section when there is no backend. */
function projectFile(text: string, hasBackend: boolean, cluster: string | undefined): string {
  const doc = parseDocument(text);
  // The template's suggested request fits the template's backend, not an adopted plugin's upstream.
  doc.setIn(["try"], doc.createNode([{ path: "/" }]));
  if (!hasBackend) doc.delete("backend");
  else if (cluster !== undefined) doc.setIn(["backend", "cluster"], cluster);
  return doc.toString();
}

export interface TakeOver {
  text: string;
  changes: string[];
  backendCluster?: string;
  listenerPort?: number;
}

/**
 * Rewrites an adopted envoy.yaml so it runs as a project: each module path
 * to where `build` writes, 0.0.0.0 to 127.0.0.1, clusters that leave the
 * machine to the project's backend, and the ports the flags ask for. Edits
 * the YAML in place, so comments and layout stay.
 */
export function takeOverEnvoyConfig(
  text: string,
  display: string,
  want: { wasm: string; listenerPort?: number; adminPort?: number; backendPort?: number },
): TakeOver {
  const changes: string[] = [];
  const say = (what: string) => changes.push(`envoy.yaml: ${what}`);
  let model = parseBootstrap(text, display, display);
  // Envoy reads a repeated field written as one mapping as a list of one (the Rust SDK's examples
  // write `listeners:` so); envoywasm reads and edits lists.
  const single = (["listeners", "clusters"] as const).filter((field) => isMap(model.doc.getIn(["static_resources", field], true)));
  if (single.length > 0) {
    for (const field of single) {
      const seq = new YAMLSeq();
      seq.items.push(model.doc.getIn(["static_resources", field], true));
      model.doc.setIn(["static_resources", field], seq);
      say(`static_resources.${field} is now a list of one (it was written as one mapping, which Envoy reads the same way)`);
    }
    model = parseBootstrap(model.doc.toString({ lineWidth: 0 }), display, display);
  }
  const doc: Document = model.doc;

  const filenames = new Set(model.wasmFilters.map((f) => f.filename).filter((f): f is string => f !== undefined));
  if (filenames.size > 1) {
    throw new UserError(`${display} loads ${filenames.size} different modules (${[...filenames].join(", ")}); init --from adopts one plugin`, {
      hint: "adopt each plugin into its own folder of one project, and list them under plugins: in envoywasm.yaml",
    });
  }
  if (filenames.size === 0) {
    throw new UserError(`${display} loads no Wasm module from a local file (vm_config.code.local.filename)`, {
      hint: "envoywasm builds the plugin to a local file; add a Wasm filter that loads it, or remove envoy.yaml from the folder to get a fresh one",
    });
  }
  for (const filter of model.wasmFilters) {
    if (filter.filename === undefined) continue;
    doc.setIn([...filter.configPath, "vm_config", "code", "local", "filename"], want.wasm);
  }
  say(`the module path ${[...filenames][0]} is now ${want.wasm}, where \`envoywasm build\` writes it`);

  const oldAdmin = model.admin?.port;
  const taken = new Set<number>([...model.listeners.map((l) => l.port), ...(oldAdmin === undefined ? [] : [oldAdmin])]);
  const rebind = (p: DocPath, what: string, address: string, port: number) => {
    if (isAnyAddress(address)) {
      doc.setIn([...p, "address"], "127.0.0.1");
      say(`${what} now binds 127.0.0.1:${port} instead of ${address} (loopback only)`);
    }
  };
  const wasmListener = model.wasmFilters[0]!.listener;
  for (const listener of model.listeners) {
    let port = listener.port;
    if (want.listenerPort !== undefined && listener.name === wasmListener && port !== want.listenerPort) {
      doc.setIn([...listener.addressPath, "port_value"], want.listenerPort);
      say(`listener ${listener.name} listens on port ${want.listenerPort} instead of ${port} (--listener-port)`);
      port = want.listenerPort;
    }
    rebind(listener.addressPath, `listener ${listener.name}`, listener.address, port);
  }
  const listenerPort = want.listenerPort ?? model.listeners.find((l) => l.name === wasmListener)?.port;
  if (model.admin === undefined) {
    let port = want.adminPort ?? 8001;
    while (want.adminPort === undefined && taken.has(port)) port++;
    taken.add(port);
    doc.set("admin", doc.createNode({ address: { socket_address: { address: "127.0.0.1", port_value: port } } }));
    say(`added an admin interface on 127.0.0.1:${port} (envoywasm asks it whether Envoy is ready)`);
  } else {
    let port = model.admin.port;
    if (want.adminPort !== undefined && want.adminPort !== port) {
      doc.setIn([...model.admin.addressPath, "port_value"], want.adminPort);
      say(`the admin interface listens on port ${want.adminPort} instead of ${port} (--admin-port)`);
      port = want.adminPort;
    }
    rebind(model.admin.addressPath, "the admin interface", model.admin.address, port);
  }

  let backendCluster: string | undefined;
  let backendPort = want.backendPort ?? 8080;
  while (want.backendPort === undefined && taken.has(backendPort)) backendPort++;
  for (const cluster of model.clusters) {
    let leaves = false;
    for (const endpoint of cluster.endpoints) {
      if (isAnyAddress(endpoint.address)) {
        doc.setIn([...endpoint.path, "address"], "127.0.0.1");
        say(`cluster ${cluster.name} connects to 127.0.0.1:${endpoint.port} instead of ${endpoint.address}`);
      }
      if (isLoopback(endpoint.address) || isAnyAddress(endpoint.address)) {
        if (oldAdmin !== undefined && want.adminPort !== undefined && endpoint.port === oldAdmin) {
          doc.setIn([...endpoint.path, "port_value"], want.adminPort);
          say(`cluster ${cluster.name} follows the admin interface to port ${want.adminPort}`);
        }
        continue;
      }
      leaves = true;
      const before = `${endpoint.address}:${endpoint.port}`;
      doc.setIn([...endpoint.path, "address"], "127.0.0.1");
      doc.setIn([...endpoint.path, "port_value"], backendPort);
      say(`cluster ${cluster.name} went to ${before}; it now goes to the project's backend on 127.0.0.1:${backendPort} (httpbin-style endpoints)`);
    }
    if (!leaves) continue;
    backendCluster ??= cluster.name;
    if (get(model.data, [...cluster.path, "transport_socket"]) !== undefined) {
      doc.deleteIn([...cluster.path, "transport_socket"]);
      say(`cluster ${cluster.name}: removed its TLS transport_socket (the backend speaks plain HTTP)`);
    }
  }
  if (want.backendPort !== undefined && backendCluster === undefined) {
    throw new UsageError("--backend-port: the adopted envoy.yaml has no cluster that leaves the machine, so the project gets no backend");
  }
  // Envoy resolves an IP literal in a DNS cluster too; nothing else to change.
  return { text: doc.toString({ lineWidth: 0 }), changes, backendCluster, listenerPort };
}
