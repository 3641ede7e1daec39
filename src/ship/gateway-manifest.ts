import type { Manifest, ManifestInput } from "./manifest.js";
import { pluginConfigObject } from "./plugin-config.js";

/** Envoy Gateway's EnvoyExtensionPolicy (gateway.envoyproxy.io/v1alpha1) with one wasm entry. */
export function envoyExtensionPolicy(input: ManifestInput): Manifest {
  const { filter, source, projectName } = input;
  const config = pluginConfigObject(filter, "Envoy Gateway's EnvoyExtensionPolicy");
  const code =
    source.kind === "image"
      ? { type: "Image", image: { url: source.image, sha256: source.digest } }
      : { type: "HTTP", http: { url: source.url, sha256: source.sha256 } };
  const wasm: Record<string, unknown> = {
    name: filter.pluginName !== "" ? filter.pluginName : projectName,
    ...(filter.rootId === "" ? {} : { rootID: filter.rootId }),
    code,
    config,
    failOpen: filter.failurePolicy === "FAIL_OPEN",
  };
  const notes =
    source.kind === "image"
      ? [
          `code.image.sha256 is the digest of the image's manifest in the registry (what Envoy Gateway checks),`,
          `not the module's own sha256 (${input.moduleSha256}).`,
          `A private registry needs code.image.pullSecretRef: a docker-registry Secret.`,
        ]
      : [`code.http.sha256 is the module's own: serve ${input.wasmRelative} at ${source.url} byte for byte.`];
  if (filter.failurePolicy === "FAIL_RELOAD") notes.push("envoy.yaml says FAIL_RELOAD; Envoy Gateway has only failOpen, so a failed VM fails closed here.");
  return {
    body: {
      apiVersion: "gateway.envoyproxy.io/v1alpha1",
      kind: "EnvoyExtensionPolicy",
      metadata: { name: projectName },
      spec: { targetRefs: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: projectName }], wasm: [wasm] },
    },
    notes: [
      ...notes,
      "",
      "Apply it in the namespace of the route it targets (edit spec.targetRefs first):",
      `  kubectl apply -n <namespace> -f ${projectName}-envoyextensionpolicy.yaml`,
    ],
    comments: [{ path: ["spec", "targetRefs"], text: "PLACEHOLDER: the HTTPRoute (or Gateway) whose traffic runs the plugin." }],
  };
}
