import { createHash } from "node:crypto";
import path from "node:path";
import { Document } from "yaml";
import { get, HTTP_WASM_TYPE, isLoopback, type EnvoyBootstrap, type WasmFilterInfo } from "./bootstrap.js";

/**
 * The config Envoy runs, derived from envoy.yaml (which stays as the user
 * wrote it, runnable with plain `envoy -c envoy.yaml`):
 *  - each HTTP Wasm filter is loaded through extension config discovery
 *    (ECDS) from a file of its own, so a new module or plugin configuration
 *    is swapped into the running Envoy in place: no restart, no dropped
 *    connection, no failed request;
 *  - each module is loaded from a copy named by its hash, so what serves is
 *    never a file being rebuilt, and is known by that hash;
 *  - in a container, loopback binds are opened to the container's own
 *    network namespace (published on the host's loopback only), and host
 *    paths are mapped to where the project is mounted.
 */

export interface DeriveOptions {
  /** Envoy's `node.id` (ECDS needs one); the project name. */
  nodeId: string;
  /** Host folder the ECDS resource files go in (under .envoywasm/run). */
  ecdsDir: string;
  /** The module copy Envoy loads for a filter (a host path), or undefined to leave it as written. */
  moduleFor: (filter: WasmFilterInfo) => string | undefined;
  /** Maps a host path to the path Envoy sees (identity natively). */
  envoyPath: (hostPath: string) => string;
  /** Open loopback binds to the container's own network (Docker). */
  openBinds: boolean;
}

export interface EcdsResource {
  /** The filter's name in the derived config, which the resource must carry too. */
  name: string;
  /** Host path of the resource file (renamed into place to apply). */
  file: string;
  /** Host path of the folder Envoy watches for it. */
  dir: string;
  /** The resource file's text, with version_info. */
  text: string;
  /** version_info: a hash of the filter config, which Envoy reports as version_text once applied. */
  version: string;
  filter: WasmFilterInfo;
}

export interface DerivedConfig {
  /** The bootstrap Envoy runs. */
  text: string;
  /** One per HTTP Wasm filter. */
  resources: EcdsResource[];
  /** A hash of the bootstrap: equal hashes mean a reload needs only the resources. */
  skeletonHash: string;
}

export function deriveConfig(bootstrap: EnvoyBootstrap, o: DeriveOptions): DerivedConfig {
  const data = structuredClone(bootstrap.data) as Record<string, unknown>;
  const set = (p: readonly (string | number)[], value: unknown) => {
    let node = data as Record<string | number, unknown>;
    for (const key of p.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
    node[p[p.length - 1]!] = value;
  };

  const node = (data.node ?? {}) as Record<string, unknown>;
  data.node = {
    ...node,
    id: typeof node.id === "string" && node.id !== "" ? node.id : o.nodeId,
    cluster: typeof node.cluster === "string" && node.cluster !== "" ? node.cluster : "envoywasm",
  };

  const resources: EcdsResource[] = [];
  bootstrap.wasmFilters.forEach((filter, index) => {
    const module = o.moduleFor(filter);
    const pluginConfig = structuredClone(get(bootstrap.data, filter.configPath) ?? {}) as Record<string, unknown>;
    if (module !== undefined) {
      const vm = (pluginConfig.vm_config ?? {}) as Record<string, unknown>;
      pluginConfig.vm_config = { ...vm, code: { local: { filename: o.envoyPath(module) } } };
    }
    if (filter.kind !== "http") {
      // Network filters and services (bootstrap_extensions) have no discovery here: the module path only; changing them restarts Envoy.
      set(filter.configPath, pluginConfig);
      return;
    }
    const name = `envoywasm-${index}${filter.pluginName === "" ? "" : `-${filter.pluginName.replace(/[^A-Za-z0-9_.-]+/g, "_")}`}`;
    const dir = path.join(o.ecdsDir, String(index));
    const file = path.join(dir, "filter.yaml");
    const typedConfig = {
      "@type": HTTP_WASM_TYPE,
      ...withoutType(
        filter.typedStruct
          ? (get(bootstrap.data, [...filter.filterPath, "typed_config", "value"]) as object)
          : (get(bootstrap.data, [...filter.filterPath, "typed_config"]) as object),
      ),
      config: pluginConfig,
    };
    const version = createHash("sha256").update(JSON.stringify(typedConfig)).digest("hex").slice(0, 16);
    const resource = {
      version_info: version,
      resources: [{ "@type": "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig", name, typed_config: typedConfig }],
    };
    resources.push({ name, file, dir, text: new Document(resource).toString({ lineWidth: 0 }), version, filter });
    set(filter.filterPath, {
      name,
      config_discovery: {
        config_source: {
          resource_api_version: "V3",
          path_config_source: { path: o.envoyPath(file), watched_directory: { path: o.envoyPath(dir) } },
        },
        type_urls: [HTTP_WASM_TYPE],
      },
    });
  });

  if (o.openBinds) {
    for (const l of bootstrap.listeners) if (isLoopback(l.address)) set([...l.addressPath, "address"], "0.0.0.0");
    if (bootstrap.admin !== undefined && isLoopback(bootstrap.admin.address)) set([...bootstrap.admin.addressPath, "address"], "0.0.0.0");
  }

  const text = `# Derived by envoywasm from ${bootstrap.display} for this run; edit ${bootstrap.display}, not this file.\n${new Document(data).toString({ lineWidth: 0 })}`;
  return { text, resources, skeletonHash: createHash("sha256").update(text).digest("hex") };
}

function withoutType(value: object | undefined): Record<string, unknown> {
  const { ["@type"]: _type, ...rest } = (value ?? {}) as Record<string, unknown>;
  return rest;
}
