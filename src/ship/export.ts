import { mkdir } from "node:fs/promises";
import path from "node:path";
import { UsageError, UserError } from "../errors.js";
import { shellQuote } from "../platform/exec.js";
import { resolvePlugins } from "../build/plugins.js";
import { loadProject, type Project } from "../project/config.js";
import { parseSha256 } from "./digest.js";
import { envoyRemoteFilter } from "./envoy-remote.js";
import { envoyExtensionPolicy } from "./gateway-manifest.js";
import { canonicalRef, parseImageRef } from "./image-ref.js";
import { istioWasmPlugin, type IstioPhase } from "./istio-manifest.js";
import { renderManifest, type Manifest, type ManifestInput, type ModuleSource } from "./manifest.js";
import { choosePlugin } from "./plugin-choice.js";
import { readShipFile, shipFile } from "./ship-record.js";
import { build } from "../build/build.js";
import { writeFileAtomic } from "../platform/files.js";
import { readEnvoyConfig } from "../project/load.js";

export const EXPORT_TARGETS = ["istio", "envoy-gateway", "envoy"] as const;
export type ExportTarget = (typeof EXPORT_TARGETS)[number];

const FILE_SUFFIX: Record<ExportTarget, string> = { istio: "wasmplugin", "envoy-gateway": "envoyextensionpolicy", envoy: "envoy" };

export interface ExportOptions {
  cwd: string;
  target: ExportTarget;
  /** The pushed image (default: the last `push` of the plugin, from .envoywasm/ship.json). */
  image?: string;
  /** The sha256 of what is fetched: the image's manifest digest, or with --url the module's. */
  sha256?: string;
  /** An http(s) URL serving the module file, instead of an image. */
  url?: string;
  plugin?: string;
  /** Write the manifest into this folder instead of returning it only. */
  out?: string;
  phase?: IstioPhase;
  project?: Project;
  onPhase?: (phase: string) => void;
  onWarning?: (message: string) => void;
}

export interface ExportResult {
  target: ExportTarget;
  plugin: string;
  moduleSha256: string;
  source: ModuleSource;
  /** The manifest, with its comments. */
  contents: string;
  /** With out: the file written. */
  file?: string;
}

/**
 * Writes the manifest that runs the plugin as envoy.yaml runs it: an Istio
 * WasmPlugin, an Envoy Gateway EnvoyExtensionPolicy, or the filter and
 * cluster for a plain Envoy fetching the module over http(s).
 */
export async function exportManifest(options: ExportOptions): Promise<ExportResult> {
  const { target } = options;
  checkFlags(options);
  const project = options.project ?? (await loadProject(options.cwd));
  const bootstrap = await readEnvoyConfig(project);
  choosePlugin(
    project.config.plugins.map((dir) => ({ dir })),
    options.plugin,
    "export",
  );
  const built = await build({ cwd: options.cwd, project, bootstrap, onPhase: options.onPhase });
  const plugin = choosePlugin(built.plugins, options.plugin, "export");
  const layout = resolvePlugins(project, bootstrap).plugins.find((p) => p.dir === plugin.dir)!;
  const httpFilters = layout.filters.filter((f) => f.kind === "http");
  const filter = httpFilters[0];
  if (filter === undefined) {
    throw new UserError(`${bootstrap.display} runs ${plugin.wasmRelative} only as a network filter; export writes HTTP filters`, {
      hint: "export works for plugins in an HTTP connection manager's http_filters",
    });
  }
  if (httpFilters.length > 1)
    options.onWarning?.(`${bootstrap.display} runs ${plugin.wasmRelative} in ${httpFilters.length} HTTP filters; exporting the first (${filter.where})`);

  const source = await moduleSource(options, project, plugin.dir, plugin.sha256);
  const input: ManifestInput = { projectName: project.config.name, filter, source, moduleSha256: plugin.sha256, wasmRelative: plugin.wasmRelative };
  let manifest: Manifest;
  if (target === "istio") manifest = istioWasmPlugin(input, options.phase ?? "UNSPECIFIED_PHASE");
  else if (target === "envoy-gateway") manifest = envoyExtensionPolicy(input);
  else manifest = envoyRemoteFilter(input, bootstrap.data);

  const header = [
    `Made by: ${commandLine(options)}`,
    `From: ${filter.where} (filter ${JSON.stringify(filter.pluginName)} in listener ${JSON.stringify(filter.listener)}), plugin folder ${plugin.dir}/`,
    `Module: ${plugin.wasmRelative}, sha256 ${plugin.sha256}`,
    "",
  ];
  const contents = renderManifest(manifest, header);
  const result: ExportResult = { target, plugin: plugin.dir, moduleSha256: plugin.sha256, source, contents };
  if (options.out !== undefined) {
    const dir = path.resolve(options.cwd, options.out);
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `${project.config.name}-${FILE_SUFFIX[target]}.yaml`);
    await writeFileAtomic(file, contents);
    result.file = file;
  }
  return result;
}

function checkFlags(options: ExportOptions): void {
  if (options.image !== undefined && options.url !== undefined) {
    throw new UsageError("--image and --url both say where the module comes from: give one");
  }
  if (options.phase !== undefined && options.target !== "istio") throw new UsageError(`--phase is Istio's; export ${options.target} has no phase`);
  if (options.target === "envoy" && options.url === undefined) {
    throw new UsageError("export envoy needs --url: the http(s) address Envoy fetches the module from", {
      hint: "upload the built module there, e.g. envoywasm export envoy --url https://example.com/plugins/my-plugin.wasm",
    });
  }
  if (options.target === "envoy" && options.image !== undefined) throw new UsageError("a plain Envoy cannot pull images: use --url");
  if (options.url !== undefined) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new UsageError(`--url ${options.url} is not a URL`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:")
      throw new UsageError(`--url ${options.url}: use an http:// or https:// URL (an image goes in --image)`);
    if (url.hostname === "") throw new UsageError(`--url ${options.url} has no host`);
  }
}

async function moduleSource(options: ExportOptions, project: Project, pluginDir: string, moduleSha256: string): Promise<ModuleSource> {
  if (options.url !== undefined) {
    const sha256 = options.sha256 === undefined ? moduleSha256 : parseSha256(options.sha256, "--sha256");
    if (sha256 !== moduleSha256)
      options.onWarning?.(`--sha256 is not the sha256 of the module built now (${moduleSha256}): the file at --url must be the one it names`);
    return { kind: "url", url: options.url, sha256 };
  }
  const given = options.image === undefined ? undefined : canonicalImage(options.image);
  const sha256 = options.sha256 === undefined ? undefined : parseSha256(options.sha256, "--sha256");
  const pushed = (await readShipFile(project))[pluginDir];
  const image = given ?? pushed?.image;
  const digest = sha256 ?? (pushed !== undefined && pushed.image === image ? pushed.digest.replace(/^sha256:/, "") : undefined);
  if (image === undefined || digest === undefined) {
    const missing = image === undefined ? "which image to use" : `the manifest digest of ${image}`;
    throw new UserError(`export ${options.target} needs ${missing}, and ${path.relative(project.root, shipFile(project))} has no push of it`, {
      hint: "run `envoywasm package --tag <registry>/<name>:<tag>` and `envoywasm push <that ref>` first, or pass --image <ref> and --sha256 <manifest digest>",
    });
  }
  if (pushed !== undefined && pushed.image === image && pushed.moduleSha256 !== moduleSha256 && sha256 === undefined) {
    options.onWarning?.(
      `${image} holds the module as it was when pushed (sha256 ${pushed.moduleSha256.slice(0, 12)}), not the one built now (${moduleSha256.slice(0, 12)}): run \`envoywasm package\` and \`envoywasm push\` to ship the current one`,
    );
  }
  return { kind: "image", image, digest };
}

/** An image reference as the manifests write it: no oci:// and an explicit tag. */
function canonicalImage(text: string): string {
  const ref = parseImageRef(text.replace(/^oci:\/\//, ""), "--image");
  return canonicalRef(ref);
}

function commandLine(options: ExportOptions): string {
  const args = ["envoywasm", "export", options.target];
  const flags: [string, string | undefined][] = [
    ["--plugin", options.plugin],
    ["--image", options.image],
    ["--url", options.url],
    ["--sha256", options.sha256],
    ["--phase", options.phase],
  ];
  for (const [flag, value] of flags) if (value !== undefined) args.push(flag, value);
  return args.map(shellQuote).join(" ");
}
