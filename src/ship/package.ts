import { readFile } from "node:fs/promises";
import path from "node:path";
import { UsageError, UserError } from "../errors.js";
import { loadProject, type Project } from "../project/config.js";
import { sha256Hex } from "./digest.js";
import { canonicalRef, parseImageRef } from "./image-ref.js";
import { choosePlugin } from "./plugin-choice.js";
import { imageLabels } from "./wasm-image.js";
import { build } from "../build/build.js";
import { readEnvoyConfig } from "../project/load.js";

export interface PackageOptions {
  cwd: string;
  /** The image reference (default: <project name>:<first 12 of the module's sha256>). */
  tag?: string;
  /** The plugin folder, when the project has several. */
  plugin?: string;
  /** Write an OCI image layout to this folder instead of building in the Docker engine. */
  ociLayout?: string;
  project?: Project;
  onPhase?: (phase: string) => void;
  onCompilerOutput?: (text: string) => void;
}

export interface PackageResult {
  /** The image reference, name:tag. */
  image: string;
  moduleSha256: string;
  /** The plugin folder, as envoywasm.yaml lists it. */
  plugin: string;
  wasmRelative: string;
  bytes: number;
  warnings: string[];
  /** From the engine. */
  imageId?: string;
  /** With --oci-layout: the folder, and the digest of the manifest written there. */
  ociLayout?: string;
  manifestDigest?: string;
}

/**
 * Packages a plugin's module as an OCI image in the Wasm "compat" layout
 * (plugin.wasm alone at the root of one layer), after building it if it is
 * stale; build() refuses a module Envoy would not load.
 */
export async function packagePlugin(options: PackageOptions): Promise<PackageResult> {
  const project = options.project ?? (await loadProject(options.cwd));
  const bootstrap = await readEnvoyConfig(project);
  const tagged = options.tag === undefined ? undefined : parseImageRef(options.tag, "--tag");
  if (tagged?.digest !== undefined)
    throw new UsageError(`--tag ${options.tag}: a tag cannot hold a digest (@sha256:…); the engine gives the digest when the image is pushed`);
  // Which plugin is known before anything is built.
  choosePlugin(
    project.config.plugins.map((dir) => ({ dir })),
    options.plugin,
    "package",
  );
  const built = await build({
    cwd: options.cwd,
    project,
    bootstrap,
    onPhase: options.onPhase,
    onCompilerOutput: options.onCompilerOutput,
  });
  const plugin = choosePlugin(built.plugins, options.plugin, "package");
  const wasm = await readFile(plugin.wasm);
  const moduleSha256 = sha256Hex(wasm);
  if (moduleSha256 !== plugin.sha256) {
    throw new UserError(`${plugin.wasmRelative} changed while it was being packaged`, { hint: "run `envoywasm package` again" });
  }
  const ref = tagged ?? parseImageRef(`${project.config.name}:${moduleSha256.slice(0, 12)}`);
  const image = canonicalRef(ref);
  const labels = imageLabels(moduleSha256, plugin.dir);
  const base = { image, moduleSha256, plugin: plugin.dir, wasmRelative: plugin.wasmRelative, bytes: wasm.length, warnings: plugin.warnings };

  if (options.ociLayout !== undefined) {
    const dir = path.resolve(options.cwd, options.ociLayout);
    options.onPhase?.(`writing an OCI image layout to ${options.ociLayout}`);
    const { writeOciLayout } = await import("./oci-layout.js");
    const layout = await writeOciLayout(dir, wasm, ref, image, labels);
    return { ...base, ociLayout: dir, manifestDigest: layout.manifestDigest };
  }

  options.onPhase?.(`building the image ${image} in the Docker engine`);
  const { connectDocker } = await import("../platform/docker.js");
  const { buildWasmImage } = await import("./engine-build.js");
  const docker = await connectDocker();
  const { imageId } = await buildWasmImage(docker, wasm, image, labels);
  return { ...base, imageId };
}
