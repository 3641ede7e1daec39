import { Document, isMap, isScalar, type Pair } from "yaml";
import type { WasmFilterInfo } from "../envoy/bootstrap.js";

/**
 * What the manifest builders share: where the module comes from, and a
 * manifest as data plus the comments a person needs to apply it (a note at
 * the top; a line above each placeholder they must edit).
 */

export type ModuleSource =
  /** An image `push` put in a registry; digest: the manifest's sha256, 64 hex. */
  | { kind: "image"; image: string; digest: string }
  /** A module file served over http(s); sha256: the module's own. */
  | { kind: "url"; url: string; sha256: string };

export interface ManifestInput {
  projectName: string;
  filter: WasmFilterInfo;
  source: ModuleSource;
  moduleSha256: string;
  /** The module's path in the project, for notes. */
  wasmRelative: string;
}

export interface Manifest {
  body: unknown;
  /** Lines for the top comment: what sha256 means here, how to apply it. */
  notes: string[];
  /** Comments above keys, by path (the placeholders to edit). */
  comments: { path: (string | number)[]; text: string }[];
}

export function renderManifest(manifest: Manifest, header: readonly string[]): string {
  const doc = new Document(manifest.body);
  for (const { path, text } of manifest.comments) {
    const parent = doc.getIn(path.slice(0, -1), true);
    if (!isMap(parent)) continue;
    const pair = (parent.items as Pair[]).find((p) => isScalar(p.key) && p.key.value === path[path.length - 1]);
    if (pair !== undefined && isScalar(pair.key))
      pair.key.commentBefore = text
        .split("\n")
        .map((l) => ` ${l}`)
        .join("\n");
  }
  doc.commentBefore = [...header, ...manifest.notes].map((l) => (l === "" ? "" : ` ${l}`)).join("\n");
  return doc.toString({ lineWidth: 0 });
}
