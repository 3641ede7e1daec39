import { existsSync } from "node:fs";
import { copyFile, mkdir, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import { build } from "../../build/build.js";
import { resolvePlugins } from "../../build/plugins.js";
import type { EnvoyBootstrap } from "../../envoy/bootstrap.js";
import { cacheHome } from "../../platform/cache.js";
import { writeFileAtomic } from "../../platform/files.js";
import { PACKAGE_ROOT } from "../../platform/package-root.js";
import type { Project, Toolchain } from "../../project/config.js";

/**
 * The cheapest filter of a toolchain: its SDK's default contexts, which do
 * nothing (a Go HTTP context whose callbacks all continue; Rust's default
 * HttpContext). What bench measures as the floor every filter of that
 * toolchain pays. Built once per toolchain and SDK version, with the build
 * any project gets, as a generated project in envoywasm's cache.
 */

export interface NoopFilter {
  wasm: string;
  /** The SDK and its version, e.g. "github.com/proxy-wasm/proxy-wasm-go-sdk v0.0.0-…" or "proxy-wasm 0.2.4". */
  sdk: string;
  /** Whether this call built it (else it came from the cache). */
  built: boolean;
}

interface Sdk {
  name: string;
  version: string;
  /** The dependency lock to build with (go.sum, Cargo.lock): the project's, or the template's. */
  lock: string;
}

const GO_SDKS = ["github.com/proxy-wasm/proxy-wasm-go-sdk", "github.com/tetratelabs/proxy-wasm-go-sdk"];

export async function noopFilter(
  project: Project,
  bootstrap: EnvoyBootstrap,
  options: { envoyVersion: string; onPhase?: (text: string) => void },
): Promise<NoopFilter> {
  const toolchain = project.config.toolchain;
  const pluginDir = resolvePlugins(project, bootstrap).plugins[0]?.moduleDir;
  const sdk = (pluginDir === undefined ? undefined : await projectSdk(toolchain, pluginDir, project.root)) ?? (await templateSdk(toolchain));
  const dir = path.join(cacheHome(), "noop-filter", `${toolchain}-${sdk.name}@${sdk.version}`.replace(/[^A-Za-z0-9@._-]+/g, "_"));
  const wasm = path.join(dir, "noop.wasm");
  const label = `${sdk.name} ${sdk.version}`;
  if (existsSync(wasm)) return { wasm, sdk: label, built: false };

  options.onPhase?.(`building the no-op ${toolchain} filter (${label}), once`);
  // Built in a folder of its own, renamed into place whole: a bench beside this one sees all of it or nothing.
  const temp = `${dir}.${process.pid}.tmp`;
  await rm(temp, { recursive: true, force: true });
  try {
    await writeProject(temp, toolchain, sdk);
    const result = await build({ cwd: temp, envoyVersion: options.envoyVersion, onPhase: options.onPhase });
    await copyFile(result.plugins[0]!.wasm, path.join(temp, "noop.wasm"));
    // cargo's target folder is tens of MiB, and the module is all that is used.
    await rm(path.join(temp, "filter", "target"), { recursive: true, force: true });
    await rename(temp, dir).catch(async () => {
      if (existsSync(wasm)) return; // another bench put one in place first
      await rm(dir, { recursive: true, force: true }); // a leftover without a module
      await rename(temp, dir);
    });
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  return { wasm, sdk: label, built: true };
}

/** The SDK the project's plugin builds with, when its manifest and lock name a released version. */
async function projectSdk(toolchain: Toolchain, pluginDir: string, root: string): Promise<Sdk | undefined> {
  if (toolchain === "rust") {
    for (let dir = pluginDir; ; dir = path.dirname(dir)) {
      const lock = await readFile(path.join(dir, "Cargo.lock"), "utf8").catch(() => undefined);
      if (lock !== undefined) return rustSdk(lock);
      if (dir === root || path.dirname(dir) === dir) return undefined;
    }
  }
  const mod = await readFile(path.join(pluginDir, "go.mod"), "utf8").catch(() => undefined);
  const sum = await readFile(path.join(pluginDir, "go.sum"), "utf8").catch(() => undefined);
  return mod === undefined || sum === undefined ? undefined : goSdk(mod, sum);
}

function goSdk(mod: string, sum: string): Sdk | undefined {
  for (const name of GO_SDKS) {
    const quoted = name.replaceAll(".", "\\.");
    // A replaced SDK (a fork, a local folder) is not the version its require line names.
    if (new RegExp(`^\\s*(replace\\s+)?${quoted}(\\s+v\\S+)?\\s*=>`, "m").test(mod)) return undefined;
    const version = new RegExp(`^\\s*(?:require\\s+)?${quoted}\\s+(v\\S+)`, "m").exec(mod)?.[1];
    if (version !== undefined) return { name, version, lock: sum };
  }
  return undefined;
}

function rustSdk(lock: string): Sdk | undefined {
  const m = /\[\[package\]\]\s*name = "proxy-wasm"\s*version = "([^"]+)"\s*source = "registry\+/.exec(lock);
  return m === null ? undefined : { name: "proxy-wasm", version: m[1]!, lock };
}

/** envoywasm's own SDK pin (its templates'), for a project whose SDK cannot be read. */
async function templateSdk(toolchain: Toolchain): Promise<Sdk> {
  const dir = path.join(PACKAGE_ROOT, "templates", "sdk", toolchain);
  if (toolchain === "rust") return rustSdk(await readFile(path.join(dir, "Cargo.lock"), "utf8"))!;
  return goSdk(await readFile(path.join(dir, "go.mod"), "utf8"), await readFile(path.join(dir, "go.sum"), "utf8"))!;
}

async function writeProject(dir: string, toolchain: Toolchain, sdk: Sdk): Promise<void> {
  const files: Record<string, string> = {
    "envoywasm.yaml": `# Generated by envoywasm bench: the no-op filter it measures as the floor.\nname: noop\ntoolchain: ${toolchain}\nplugins: [filter]\n`,
    "envoy.yaml": ENVOY_YAML,
  };
  if (toolchain === "rust") {
    const manifest = (await readFile(path.join(PACKAGE_ROOT, "templates", "sdk", "rust", "Cargo.toml"), "utf8"))
      .replace("{{crateName}}", "envoywasm_noop")
      .replace(/\[dependencies\][^[]*/, `[dependencies]\nproxy-wasm = "=${sdk.version}"\n\n`);
    Object.assign(files, { "filter/Cargo.toml": manifest, "filter/Cargo.lock": sdk.lock, "filter/src/lib.rs": RUST_NOOP });
  } else {
    const main = toolchain === "go" ? "func main() {}\n\nfunc init() { proxywasm.SetVMContext(&vm{}) }" : "func main() { proxywasm.SetVMContext(&vm{}) }";
    Object.assign(files, {
      "filter/go.mod": `module envoywasm.local/noop\n\ngo 1.24\n\nrequire ${sdk.name} ${sdk.version}\n`,
      "filter/go.sum": sdk.lock,
      "filter/main.go": GO_NOOP.replaceAll("{{sdk}}", sdk.name).replace("{{main}}", main),
    });
  }
  for (const [file, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFileAtomic(path.join(dir, file), text);
  }
}

const GO_NOOP = `// The no-op filter envoywasm bench measures as the floor: the SDK's defaults only.
package main

import (
	"{{sdk}}/proxywasm"
	"{{sdk}}/proxywasm/types"
)

{{main}}

type vm struct{ types.DefaultVMContext }

func (*vm) NewPluginContext(uint32) types.PluginContext { return &plugin{} }

type plugin struct{ types.DefaultPluginContext }

func (*plugin) NewHttpContext(uint32) types.HttpContext { return &types.DefaultHttpContext{} }
`;

const RUST_NOOP = `//! The no-op filter envoywasm bench measures as the floor: the SDK's defaults only.
use proxy_wasm::traits::{Context, HttpContext};

proxy_wasm::main! {{
    proxy_wasm::set_http_context(|_, _| -> Box<dyn HttpContext> { Box::new(Noop) });
}}

struct Noop;

impl Context for Noop {}

impl HttpContext for Noop {}
`;

/** What the build needs to know where the module goes (Envoy never runs this file). */
const ENVOY_YAML = `static_resources:
  listeners:
    - name: noop
      address:
        socket_address: { address: 127.0.0.1, port_value: 10000 }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: noop
                route_config:
                  virtual_hosts:
                    - name: noop
                      domains: ["*"]
                      routes:
                        - match: { prefix: "/" }
                          direct_response: { status: 200 }
                http_filters:
                  - name: envoy.filters.http.wasm
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
                      config:
                        vm_config:
                          code: { local: { filename: build/noop.wasm } }
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
`;
