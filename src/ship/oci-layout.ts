import { existsSync } from "node:fs";
import { mkdir, readdir } from "node:fs/promises";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { UserError } from "../errors.js";
import { sha256Hex } from "./digest.js";
import type { ImageRef } from "./image-ref.js";
import { tarFiles } from "./tar.js";
import { WASM_FILE, WASM_VARIANT_ANNOTATION } from "./wasm-image.js";
import { writeFileAtomic } from "../platform/files.js";

/**
 * An OCI image layout of a Wasm module in the "compat" variant, written with
 * no engine: one gzip layer holding plugin.wasm, a linux/amd64 config, and a
 * manifest annotated module.wasm.image/variant=compat. Next to index.json it
 * writes a docker-save style manifest.json, because Docker 20.10 loads only
 * that form (`tar -C <dir> -cf - . | docker load`). Same module, same digests.
 */

const MEDIA = {
  manifest: "application/vnd.oci.image.manifest.v1+json",
  index: "application/vnd.oci.image.index.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar+gzip",
} as const;

export interface OciLayoutResult {
  dir: string;
  /** sha256:… of the image manifest. */
  manifestDigest: string;
  configDigest: string;
  layerDigest: string;
  /** sha256:… of the uncompressed layer (the config's rootfs.diff_ids[0]). */
  diffId: string;
}

export async function writeOciLayout(dir: string, wasm: Uint8Array, ref: ImageRef, refText: string, labels: Record<string, string>): Promise<OciLayoutResult> {
  await refuseForeignFolder(dir);
  const layerTar = await tarFiles([{ name: WASM_FILE, data: wasm }]);
  const diffId = `sha256:${sha256Hex(layerTar)}`;
  // level 9 and no file name or time in the gzip header: the same bytes every time.
  const layer = gzipSync(layerTar, { level: 9 });

  const config = json({
    architecture: "amd64",
    os: "linux",
    config: { Labels: labels },
    rootfs: { type: "layers", diff_ids: [diffId] },
  });
  const manifest = json({
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config: { mediaType: MEDIA.config, digest: digestOf(config), size: config.length },
    layers: [{ mediaType: MEDIA.layer, digest: digestOf(layer), size: layer.length, annotations: { "org.opencontainers.image.title": WASM_FILE } }],
    annotations: { [WASM_VARIANT_ANNOTATION]: "compat" },
  });
  const manifestDigest = digestOf(manifest);
  const index = json({
    schemaVersion: 2,
    mediaType: MEDIA.index,
    manifests: [
      {
        mediaType: MEDIA.manifest,
        digest: manifestDigest,
        size: manifest.length,
        annotations: { "io.containerd.image.name": refText, "org.opencontainers.image.ref.name": ref.tag },
      },
    ],
  });
  const dockerManifest = json([{ Config: blobPath(digestOf(config)), RepoTags: [refText], Layers: [blobPath(digestOf(layer))] }]);

  await mkdir(path.join(dir, "blobs", "sha256"), { recursive: true });
  for (const blob of [layer, config, manifest]) await writeFileAtomic(path.join(dir, blobPath(digestOf(blob))), blob, 0o644);
  await writeFileAtomic(path.join(dir, "oci-layout"), json({ imageLayoutVersion: "1.0.0" }), 0o644);
  await writeFileAtomic(path.join(dir, "index.json"), index, 0o644);
  await writeFileAtomic(path.join(dir, "manifest.json"), dockerManifest, 0o644);
  return { dir, manifestDigest, configDigest: digestOf(config), layerDigest: digestOf(layer), diffId };
}

/** Writes into an empty or missing folder, or over an earlier layout; never into anything else. */
async function refuseForeignFolder(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (error) {
    throw new UserError(`--oci-layout ${dir} is not a folder (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  if (entries.length > 0 && !entries.includes("oci-layout")) {
    throw new UserError(`--oci-layout ${dir} is a folder with other files in it`, {
      hint: "name an empty or new folder (or an earlier OCI layout, which is rewritten)",
    });
  }
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function digestOf(data: Uint8Array): string {
  return `sha256:${sha256Hex(data)}`;
}

function blobPath(digest: string): string {
  return `blobs/sha256/${digest.slice("sha256:".length)}`;
}
