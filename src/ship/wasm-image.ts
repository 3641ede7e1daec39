/**
 * What makes an image a Wasm plugin image in the "compat" variant that Istio
 * and Envoy Gateway pull: one layer whose only file is plugin.wasm at the
 * root. The variant is marked by module.wasm.image/variant=compat (a manifest
 * annotation in an OCI layout; an image label from the engine, whose legacy
 * builder cannot annotate manifests). envoywasm's own labels let `push` know
 * which module and plugin an image holds without guessing.
 */

export const WASM_FILE = "plugin.wasm";
export const WASM_VARIANT_ANNOTATION = "module.wasm.image/variant";
export const LABEL_MODULE_SHA256 = "io.envoywasm.module.sha256";
export const LABEL_PLUGIN = "io.envoywasm.plugin";

export function imageLabels(moduleSha256: string, pluginDir: string): Record<string, string> {
  return { [WASM_VARIANT_ANNOTATION]: "compat", [LABEL_MODULE_SHA256]: moduleSha256, [LABEL_PLUGIN]: pluginDir };
}

/** FROM scratch, the labels, plugin.wasm at the root. Values are JSON strings, which a Dockerfile reads the same. */
export function dockerfile(labels: Record<string, string>): string {
  const label = Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(" \\\n      ");
  return `FROM scratch\nLABEL ${label}\nCOPY ${WASM_FILE} ./\n`;
}
