import { UsageError } from "../errors.js";
import { get, HTTP_WASM_TYPE } from "../envoy/bootstrap.js";
import type { Manifest, ManifestInput } from "./manifest.js";

/**
 * The plugin's HTTP filter for a plain Envoy that fetches the module over
 * http(s): envoy.yaml's own PluginConfig (name, root_id, vm_id, configuration,
 * failure_policy and the rest, as written) with vm_config.code.remote in place
 * of the local file, and the cluster Envoy fetches it through.
 */
export function envoyRemoteFilter(input: ManifestInput, bootstrapData: unknown): Manifest {
  const { filter, source, projectName } = input;
  if (source.kind !== "url") throw new UsageError("export envoy needs --url: where Envoy fetches the module from");
  const url = new URL(source.url);
  const https = url.protocol === "https:";
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = url.port === "" ? (https ? 443 : 80) : Number(url.port);
  const cluster = `${projectName}-wasm-module`;

  const config = structuredClone((get(bootstrapData, filter.configPath) ?? {}) as Record<string, unknown>);
  const vm = (config.vm_config ?? {}) as Record<string, unknown>;
  vm.code = {
    remote: {
      http_uri: { uri: source.url, cluster, timeout: "10s" },
      sha256: source.sha256,
      retry_policy: { num_retries: 3 },
    },
  };
  config.vm_config = vm;

  const clusterDef: Record<string, unknown> = {
    name: cluster,
    type: "STRICT_DNS",
    connect_timeout: "5s",
    load_assignment: {
      cluster_name: cluster,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: host, port_value: port } } } }] }],
    },
    ...(https
      ? {
          transport_socket: {
            name: "envoy.transport_sockets.tls",
            typed_config: {
              "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
              ...(/^[\d.]+$|:/.test(host) ? {} : { sni: host }),
            },
          },
        }
      : {}),
  };
  return {
    body: {
      http_filters: [{ name: filter.filterName !== "" ? filter.filterName : "envoy.filters.http.wasm", typed_config: { "@type": HTTP_WASM_TYPE, config } }],
      clusters: [clusterDef],
    },
    notes: [
      `Envoy fetches the module from ${source.url} when it loads this config, and refuses it unless its`,
      `sha256 is ${source.sha256}: serve ${input.wasmRelative} there byte for byte.`,
      "Where it goes in your Envoy config:",
      "  - the http_filters entry: into your HTTP connection manager's http_filters, before envoy.filters.http.router;",
      "  - the cluster: under static_resources.clusters.",
      ...(https
        ? ["The cluster speaks TLS with SNI but does not verify the server: the sha256 pins the module. Add a validation_context to verify it too."]
        : []),
    ],
    comments: [],
  };
}
