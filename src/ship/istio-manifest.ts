import type { FailurePolicy } from "../envoy/bootstrap.js";
import type { Manifest, ManifestInput } from "./manifest.js";
import { pluginConfigObject } from "./plugin-config.js";

/** Istio's WasmPlugin (extensions.istio.io/v1alpha1) for the plugin as envoy.yaml runs it. */

export const ISTIO_PHASES = ["AUTHN", "AUTHZ", "STATS", "UNSPECIFIED_PHASE"] as const;
export type IstioPhase = (typeof ISTIO_PHASES)[number];

const FAIL_STRATEGY: Record<FailurePolicy, string> = { FAIL_CLOSED: "FAIL_CLOSE", FAIL_OPEN: "FAIL_OPEN", FAIL_RELOAD: "FAIL_RELOAD" };

export function istioWasmPlugin(input: ManifestInput, phase: IstioPhase): Manifest {
  const { filter, source, projectName } = input;
  const pluginConfig = pluginConfigObject(filter, "Istio's WasmPlugin");
  // Istio passes pluginName to Envoy as root_id (it names the PluginConfig itself).
  const pluginName = filter.rootId !== "" ? filter.rootId : filter.pluginName !== "" ? filter.pluginName : projectName;
  const spec: Record<string, unknown> = {
    selector: { matchLabels: { app: projectName } },
    url: source.kind === "image" ? `oci://${source.image}` : source.url,
    sha256: source.kind === "image" ? source.digest : source.sha256,
    pluginName,
    phase,
    failStrategy: FAIL_STRATEGY[filter.failurePolicy],
    type: "HTTP",
    pluginConfig,
  };
  const notes =
    source.kind === "image"
      ? [
          `sha256 is the digest of the image's manifest in the registry (what Istio checks after pulling),`,
          `not the module's own sha256 (${input.moduleSha256}).`,
          `A private registry needs spec.imagePullSecret: a docker-registry Secret in the plugin's namespace.`,
        ]
      : [`sha256 is the module's own: serve ${input.wasmRelative} at ${source.url} byte for byte.`];
  return {
    body: { apiVersion: "extensions.istio.io/v1alpha1", kind: "WasmPlugin", metadata: { name: projectName }, spec },
    notes: [
      ...notes,
      "",
      "Apply it in the namespace of the workloads that run the plugin (edit spec.selector first):",
      `  kubectl apply -n <namespace> -f ${projectName}-wasmplugin.yaml`,
    ],
    comments: [
      {
        path: ["spec", "selector"],
        text: `PLACEHOLDER: the labels of the pods whose sidecars (or gateway) run the plugin.\nWithout a selector it runs in every workload of the namespace.`,
      },
    ],
  };
}
