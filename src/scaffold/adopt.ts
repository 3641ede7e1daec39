import { existsSync } from "node:fs";
import { lstat, readdir, readFile, rm, rmdir } from "node:fs/promises";
import path from "node:path";
import { parseDocument } from "yaml";
import { UsageError, UserError } from "../errors.js";
import { shellQuote } from "../platform/exec.js";
import { NAME_PATTERN, NAME_RULE, type Toolchain } from "../project/config.js";
import { pinnedSdk, render, SDK_MODULES, type PlannedFile } from "./templates.js";
import { asNetworkFilter, planModulePaths, takeOverEnvoyConfig } from "../envoy/adoption.js";
import {
  assertGoPlugin,
  assertRootMainPackage,
  goModJson,
  importsAnyGoSdk,
  importsGoSdk,
  looseModulePath,
  loosePluginsBelow,
  pluginModulesBelow,
  repairGoMod,
  type GoModJson,
} from "./go-module.js";
import { findEnvoyConfig } from "./envoy-config-search.js";
import { BlockText } from "./render-text.js";
import { writePlan, type WriteReport } from "./write-plan.js";
import { templateValues } from "./init.js";
import { rewriteCargoToml } from "./cargo-manifest.js";
import { cargoPackage, fetchCrates, pluginCratesBelow } from "./rust-package.js";
import { starterCase } from "./starter-case.js";
import { parseBootstrap, pluginListener } from "../envoy/bootstrap.js";
import { streamContexts, type StreamContexts } from "./plugin-contexts.js";
import { pluginsHint } from "./plugins-below.js";
import { DEFAULT_PORTS } from "../envoy/default-ports.js";

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
  /** The Envoy config to take over, when the folder has several (default: the best one found in it). */
  envoyConfig?: string;
}

export interface AdoptResult {
  dir: string;
  name: string;
  toolchain: Toolchain;
  /** One line per change made to the copy (go.mod, envoy.yaml). */
  changes: string[];
  files: WriteReport;
  hasBackend: boolean;
  /** `up` will suggest a request: the plugin runs in a listener, and a request there does not make it panic. */
  suggestsRequests: boolean;
}

const PLUGIN_DIR = "plugin";
const BACKEND_DIR = "backend";
const STARTER_CASE = "e2e/starter.yaml";
/** Not copied: build output, VCS and editor state, envoywasm's own state (nor the config taken over: the project's envoy.yaml is it). */
const SKIP = new Set([".git", ".envoywasm", "build", "target", "node_modules", ".idea", ".vscode", ".DS_Store"]);

export async function adopt(options: AdoptOptions): Promise<AdoptResult> {
  const source = path.resolve(options.cwd, options.from);
  const stat = await lstat(source).catch(() => undefined);
  if (stat === undefined || !stat.isDirectory()) throw new UsageError(`--from ${options.from}: no such folder`);
  const rust = !existsSync(path.join(source, "go.mod")) && existsSync(path.join(source, "Cargo.toml"));
  if (!rust && !existsSync(path.join(source, "go.mod"))) {
    // Go files on the SDK without a module of their own (service-extensions' samples): how to make them one.
    const goFiles = (await readdir(source)).filter((f) => f.endsWith(".go"));
    const texts = await Promise.all(goFiles.map((f) => readFile(path.join(source, f), "utf8")));
    const sdk = await pinnedSdk("go");
    // A repository's root: the plugin folders below it (Go modules, Cargo packages, else folders of loose Go files).
    const modules = [...(await pluginModulesBelow(source)), ...(await pluginCratesBelow(source))];
    const below = modules.length > 0 ? modules : await loosePluginsBelow(source);
    // One plugin below, and the repository's Envoy config outside its folder: the command that takes both.
    const config = below.length === 1 ? (await findEnvoyConfig(source))?.file : undefined;
    const outside = config !== undefined && !config.startsWith(path.join(source, below[0]!) + path.sep) ? path.relative(source, config) : undefined;
    throw new UserError(
      `${options.from} has no go.mod or Cargo.toml: --from takes the folder of a Go proxy-wasm plugin (its own Go module) or a Rust one (its own Cargo package)`,
      {
        hint: texts.some(importsGoSdk)
          ? `make its Go files a module first: cd ${shellQuote(options.from)} && go mod init ${looseModulePath(source, texts)} && go get ${sdk.module}@${sdk.version} && go mod tidy`
          : outside !== undefined
            ? `the plugin is in ${below[0]}/ and its Envoy config in ${outside}: envoywasm init --from ${shellQuote(path.join(options.from, below[0]!))} --envoy-config ${shellQuote(path.join(options.from, outside))}`
            : (pluginsHint(options.from, below) ?? "point --from at the folder that holds the plugin's main.go and go.mod, or its src/ and Cargo.toml"),
      },
    );
  }
  const dir = path.resolve(options.cwd, options.dir ?? ".");
  if (dir === source || dir.startsWith(source + path.sep)) {
    throw new UsageError("the new project must be outside the folder it adopts (that folder is copied, never edited)", {
      hint: `e.g. envoywasm init --from ${shellQuote(options.from)} ${shellQuote(`../${path.basename(source)}-project`)}`,
    });
  }
  const name = options.name ?? nameFor(dir);
  if (!NAME_PATTERN.test(name)) {
    throw new UsageError(`cannot make a project name from ${JSON.stringify(path.basename(dir))}`, { hint: `pass --name <name> (${NAME_RULE})` });
  }

  const gomod = rust ? undefined : await goModJson(source);
  const cargo = rust ? await cargoPackage(source, options.from) : undefined;
  const toolchain: Toolchain = rust ? "rust" : gomod!.Require?.some((r) => r.Path === SDK_MODULES.tinygo) === true ? "tinygo" : "go";
  const changes: string[] = [];

  const found = await findEnvoyConfig(source, options.envoyConfig, options.cwd);
  const configFile = found?.file;
  if (found !== undefined && (found.others.length > 0 || path.dirname(found.file) !== source)) {
    const rel = (f: string) => path.relative(source, f);
    changes.push(
      `took ${found.file.startsWith(source + path.sep) ? rel(found.file) : found.file} as its Envoy config${found.others.length === 0 ? "" : ` (also found: ${found.others.map(rel).join(", ")}; --envoy-config picks another)`}`,
    );
  }
  const backendPort = options.backendPort === undefined ? undefined : Number(options.backendPort);
  const files: PlannedFile[] = await copyPlan(source, PLUGIN_DIR, configFile);
  const mains = gomod === undefined ? [] : mainPackages(files);
  if (gomod !== undefined) await assertGoPlugin(source, options.from, gomod, mains.length > 0);
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
  let pluginFolders: string[] = [];
  const contexts = contextsOf(files);
  /** A fresh envoy.yaml loads the plugin as a network filter. */
  let network = false;
  const values = templateValues({
    name,
    template: "headers",
    toolchain,
    listenerPort: Number(options.listenerPort ?? DEFAULT_PORTS.listener),
    adminPort: Number(options.adminPort ?? DEFAULT_PORTS.admin),
    backendPort: backendPort ?? DEFAULT_PORTS.backend,
    // A rust plugin has no Go module path; the backend's is made from this one.
    module: gomod?.Module.Path ?? `example.com/${name}/plugin`,
  });
  if (configFile !== undefined) {
    const display = path.relative(options.cwd, configFile);
    const taken = takeOverEnvoyConfig(await readFile(configFile, "utf8"), display, {
      modules: (filenames) => planModulePaths(filenames, display, name, mains),
      listenerPort: options.listenerPort === undefined ? undefined : Number(options.listenerPort),
      adminPort: options.adminPort === undefined ? undefined : Number(options.adminPort),
      backendPort,
      otherConfigs: found?.others.map((f) => path.relative(options.cwd, f)),
    });
    envoyYaml = taken.text;
    changes.push(...taken.changes);
    pluginFolders = taken.pluginFolders;
    hasBackend = taken.backendCluster !== undefined;
    backendCluster = taken.backendCluster;
  } else {
    network = contexts.tcp && !contexts.http;
    changes.push(
      `${options.envoyConfig === "none" ? "--envoy-config none" : `${path.basename(source)} has no envoy.yaml`}: wrote a fresh one (listener 127.0.0.1:${values.listenerPort}, the plugin${network ? " as a network filter (it makes only TCP contexts) before a tcp_proxy" : ""}, the backend)`,
    );
    envoyYaml = "";
    hasBackend = true;
    backendCluster = "backend";
  }

  // No main package at the root and one module: the one main package that uses the SDK builds it (cmd/<name>/ beside a generator's).
  const sdkMains = mains.filter((m) => m !== "" && usesSdk(files, m));
  if (gomod !== undefined && !mains.includes("") && pluginFolders.length === 0 && sdkMains.length === 1) {
    pluginFolders = sdkMains;
    changes.push(`the plugin is the main package in ${sdkMains[0]}/, the one that imports the proxy-wasm SDK: envoywasm.yaml lists it under plugins:`);
  }
  if (gomod !== undefined) assertRootMainPackage(options.from, mains, pluginFolders);
  const rendered = await render({
    template: "headers",
    toolchain,
    values: { ...values, pluginConfigBlock: new BlockText("{}") },
    pluginDir: PLUGIN_DIR,
    backendDir: BACKEND_DIR,
  });
  for (const file of rendered) {
    if (file.path === "envoy.yaml") {
      const fresh = String(file.contents);
      files.push({ path: "envoy.yaml", contents: envoyYaml !== "" ? envoyYaml : network ? asNetworkFilter(fresh, "backend") : fresh });
    } else if (file.path === "envoywasm.yaml")
      files.push({ path: file.path, contents: projectFile(String(file.contents), hasBackend, backendCluster, pluginFolders) });
    else if (file.path === ".gitignore") files.push(file);
    // cargo's target/ (the toolchain's own ignore file), unless the folder brought one.
    else if (file.path === `${PLUGIN_DIR}/.gitignore` && !files.some((f) => f.path === file.path)) files.push(file);
    else if (hasBackend && file.path.startsWith(`${BACKEND_DIR}/`)) files.push(file);
    else if (file.path.startsWith(".github/")) files.push(file);
  }
  const envoyText = String(files.find((f) => f.path === "envoy.yaml")!.contents);
  const starter = starterCase(envoyText, "envoy.yaml", hasBackend ? backendCluster : undefined, !contexts.rootOnly);
  if (starter !== undefined) files.push({ path: STARTER_CASE, contents: starter });
  if (starter !== undefined && contexts.rootOnly)
    changes.push(`${STARTER_CASE}: no request case: the plugin makes no HTTP or TCP context, so a request through its filter would make it panic`);

  const existed = existsSync(dir);
  const report = await writePlan(dir, files, options.force === true);
  try {
    changes.push(...(await settleModules(dir, report, gomod, source, toolchain, files, options.onPhase)));
  } catch (error) {
    // Nothing half made is left to block the next try: what this wrote goes, and the folder if this made it.
    await undoWrite(dir, report.created, existed);
    throw error;
  }
  const suggestsRequests = !contexts.rootOnly && pluginListener(parseBootstrap(envoyText, "envoy.yaml", "envoy.yaml")) !== undefined;
  return { dir, name, toolchain, changes, files: report, hasBackend, suggestsRequests };
}

/** go.mod repaired and tidied, or the crates fetched, in the new project's copy of the plugin. */
async function settleModules(
  dir: string,
  report: WriteReport,
  gomod: GoModJson | undefined,
  source: string,
  toolchain: Toolchain,
  files: PlannedFile[],
  onPhase?: (t: string) => void,
): Promise<string[]> {
  const changes: string[] = [];
  const options = { onPhase };
  const pluginDir = path.join(dir, PLUGIN_DIR);
  const manifest = `${PLUGIN_DIR}/${gomod === undefined ? "Cargo.toml" : "go.mod"}`;
  if (!report.created.includes(manifest)) {
    changes.push(`${manifest} was already there: left as it is`);
  } else if (gomod !== undefined) {
    changes.push(...(await repairGoMod(pluginDir, PLUGIN_DIR, source, gomod, toolchain, options.onPhase)));
  } else {
    changes.push(
      await fetchCrates(
        pluginDir,
        PLUGIN_DIR,
        files.some((f) => f.path === `${PLUGIN_DIR}/Cargo.lock`),
        options.onPhase,
      ),
    );
  }
  return changes;
}

async function undoWrite(dir: string, created: readonly string[], existed: boolean): Promise<void> {
  if (!existed) {
    await rm(dir, { recursive: true, force: true });
    return;
  }
  for (const file of created) await rm(path.join(dir, file), { force: true });
  // The folders that held only what this wrote, deepest first.
  const folders = [
    ...new Set(
      created.flatMap((f) =>
        f
          .split("/")
          .slice(0, -1)
          .map((_, i, parts) => parts.slice(0, i + 1).join("/")),
      ),
    ),
  ];
  for (const folder of folders.sort((a, b) => b.length - a.length)) await rmdir(path.join(dir, folder)).catch(() => {});
}

function nameFor(dir: string): string {
  return path
    .basename(dir)
    .toLowerCase()
    .replace(/[_ .]+/g, "-")
    .replace(/^-+|-+$/g, "");
}

/** Every file of the source folder but the Envoy config taken over, to go under `to/` in the project. */
async function copyPlan(source: string, to: string, taken: string | undefined, rel = ""): Promise<PlannedFile[]> {
  const out: PlannedFile[] = [];
  for (const entry of await readdir(path.join(source, rel), { withFileTypes: true })) {
    const childRel = rel === "" ? entry.name : `${rel}/${entry.name}`;
    if (SKIP.has(entry.name)) continue;
    if (path.join(source, childRel) === taken) continue;
    if (entry.isDirectory()) out.push(...(await copyPlan(source, to, taken, childRel)));
    else if (entry.isFile() && !entry.name.endsWith(".wasm")) {
      const full = path.join(source, childRel);
      const mode = (await lstat(full)).mode & 0o777;
      out.push({ path: `${to}/${childRel}`, contents: await readFile(full), mode });
    }
  }
  return out;
}

/** envoywasm.yaml from the template, without a backend section when there is no backend, listing the plugin folders when there are several. */
function projectFile(text: string, hasBackend: boolean, cluster: string | undefined, pluginFolders: string[]): string {
  const doc = parseDocument(text);
  if (pluginFolders.length > 0) doc.set("plugins", doc.createNode(pluginFolders.map((f) => `${PLUGIN_DIR}/${f}`)));
  if (!hasBackend) doc.delete("backend");
  else if (cluster !== undefined) doc.setIn(["backend", "cluster"], cluster);
  return doc.toString();
}

/** The folders of the copy that hold a Go main package (relative to the adopted folder, "" for itself). */
function mainPackages(files: readonly PlannedFile[]): string[] {
  const found = new Set<string>();
  for (const f of files) {
    if (!f.path.startsWith(`${PLUGIN_DIR}/`) || !f.path.endsWith(".go") || f.path.endsWith("_test.go")) continue;
    if (/^package main\b/m.test(String(f.contents))) found.add(path.posix.dirname(f.path.slice(PLUGIN_DIR.length + 1)).replace(/^\.$/, ""));
  }
  return [...found];
}

/** A main package's folder (relative to the adopted one) has a Go file that imports a proxy-wasm Go SDK. */
function usesSdk(files: readonly PlannedFile[], folder: string): boolean {
  return files.some((f) => path.posix.dirname(f.path) === `${PLUGIN_DIR}/${folder}` && f.path.endsWith(".go") && importsAnyGoSdk(String(f.contents)));
}

/** The stream contexts the copy's plugin makes (its Go or Rust sources, tests aside). */
function contextsOf(files: readonly PlannedFile[]): StreamContexts {
  return streamContexts(
    files.filter((f) => f.path.startsWith(`${PLUGIN_DIR}/`) && /\.(go|rs)$/.test(f.path) && !f.path.endsWith("_test.go")).map((f) => String(f.contents)),
  );
}
