import { LineCounter, parseDocument, type Document, type Node as YamlNode } from "yaml";
import { UserError } from "../errors.js";
import { readUserFile } from "../platform/files.js";
import { DEFAULT_PORTS } from "./default-ports.js";

/**
 * What envoywasm reads from envoy.yaml, the one place where everything Envoy
 * does is written: listeners and their ports, the admin port, clusters, and
 * each Wasm filter (plugin name, root_id, vm_id, configuration, module path,
 * failure policy). envoy.yaml stays the user's file and Envoy's to judge:
 * this never fails on what it does not understand, it only finds less. Only
 * YAML that does not parse at all is an error.
 */

export type FailurePolicy = "FAIL_CLOSED" | "FAIL_OPEN" | "FAIL_RELOAD";

/** A path into the parsed document, as `yaml`'s getIn/setIn take it. */
export type DocPath = readonly (string | number)[];

export interface SocketAddress {
  address: string;
  port: number;
}

export interface ListenerInfo extends SocketAddress {
  name: string;
  /** file:line of its port, for messages. */
  where: string;
  /** Path to the socket_address object, for rewriting binds. */
  addressPath: DocPath;
}

export interface ClusterInfo {
  name: string;
  endpoints: (SocketAddress & { path: DocPath })[];
  where: string;
  path: DocPath;
}

export const HTTP_WASM_TYPE = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";
export const NETWORK_WASM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm";
/** A plugin Envoy runs beside its listeners (bootstrap_extensions: envoy.bootstrap.wasm), with a root context only. */
export const WASM_SERVICE_TYPE = "type.googleapis.com/envoy.extensions.wasm.v3.WasmService";

export interface WasmFilterInfo {
  kind: WasmKind;
  /** The listener it runs in ("" for a service). */
  listener: string;
  /** The filter entry's `name` (envoy.filters.http.wasm, or anything the user chose). */
  filterName: string;
  /** PluginConfig.name, root_id and vm_id ("" when unset, as Envoy treats it). */
  pluginName: string;
  rootId: string;
  vmId: string;
  /** The plugin configuration as the plugin gets it, when it is a StringValue/BytesValue. */
  configuration?: string;
  /** The configuration's "@type", when it has one. */
  configurationType?: string;
  /** vm_config.code.local.filename as written. */
  filename?: string;
  /** The module comes from vm_config.code.remote (not built here). */
  remote: boolean;
  failurePolicy: FailurePolicy;
  /** Path to the filter entry (the object with name and typed_config) in the document. */
  filterPath: DocPath;
  /** Path to the PluginConfig (the object holding vm_config). */
  configPath: DocPath;
  /** Whether the filter's typed_config wraps the Wasm message in a TypedStruct. */
  typedStruct: boolean;
  where: string;
}

export interface EnvoyBootstrap {
  /** Absolute path of the file. */
  file: string;
  /** As shown to the user (relative to the project root). */
  display: string;
  text: string;
  doc: Document;
  /** The document as plain data. */
  data: unknown;
  listeners: ListenerInfo[];
  admin?: SocketAddress & { where: string; addressPath: DocPath };
  clusters: ClusterInfo[];
  wasmFilters: WasmFilterInfo[];
  /** port_values that are no port (a placeholder such as OPA_PORT), with where each is. */
  badPorts: { where: string; value: unknown }[];
}

export async function loadBootstrap(file: string, display: string): Promise<EnvoyBootstrap> {
  const text = await readUserFile(
    file,
    display,
    "envoy.config in envoywasm.yaml names Envoy's config file; create it, or run `envoywasm init` for a fresh project",
  );
  const bootstrap = parseBootstrap(text, file, display);
  // Adopting a config keeps a placeholder port for its owner to fill in; running one needs real ports.
  const [bad] = bootstrap.badPorts;
  if (bad !== undefined) {
    throw new UserError(`${bad.where}: port_value must be a whole number from 0 to 65535 (got ${JSON.stringify(bad.value)})`, {
      hint: `put the port there, e.g. port_value: ${DEFAULT_PORTS.listener}`,
    });
  }
  return bootstrap;
}

export function parseBootstrap(text: string, file: string, display: string): EnvoyBootstrap {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const syntax = doc.errors[0];
  if (syntax !== undefined) {
    const pos = lines.linePos(syntax.pos[0]);
    throw new UserError(`${display}:${pos.line}:${pos.col}: invalid YAML: ${syntax.message.split("\n")[0]}`, { hint: `fix the syntax of ${display}` });
  }
  let data: unknown;
  try {
    data = doc.toJS();
  } catch (error) {
    // The yaml package's resource limits (an alias bomb: "Excessive alias count …"): the user's file, not a crash.
    throw new UserError(`${display}: ${(error as Error).message}`, { hint: `${display} expands too far (anchors and aliases); write the values out` });
  }
  const where = (p: DocPath): string => {
    for (let depth = p.length; depth >= 0; depth--) {
      const node = (depth === 0 ? doc.contents : doc.getIn(p.slice(0, depth), true)) as YamlNode | undefined;
      if (node?.range) return `${display}:${lines.linePos(node.range[0]).line}`;
    }
    return display;
  };

  const badPorts: EnvoyBootstrap["badPorts"] = [];
  const bad = (at: DocPath, value: unknown) => badPorts.push({ where: where(at), value });
  const listeners: ListenerInfo[] = [];
  const listenerList = asArray(get(data, ["static_resources", "listeners"]));
  listenerList.forEach((listener, i) => {
    const base = ["static_resources", "listeners", i];
    const name = str(get(listener, ["name"])) ?? `listeners[${i}]`;
    const addresses: DocPath[] = [[...base, "address", "socket_address"]];
    asArray(get(listener, ["additional_addresses"])).forEach((_, j) => addresses.push([...base, "additional_addresses", j, "address", "socket_address"]));
    for (const addressPath of addresses) {
      const socket = socketAt(data, addressPath, bad);
      if (socket !== undefined) listeners.push({ name, ...socket, where: where([...addressPath, "port_value"]), addressPath });
    }
  });

  const adminPath = ["admin", "address", "socket_address"];
  const adminSocket = socketAt(data, adminPath, bad);

  const clusters: ClusterInfo[] = asArray(get(data, ["static_resources", "clusters"])).map((cluster, i) => {
    const base = ["static_resources", "clusters", i];
    const endpoints: ClusterInfo["endpoints"] = [];
    asArray(get(cluster, ["load_assignment", "endpoints"])).forEach((locality, j) => {
      asArray(get(locality, ["lb_endpoints"])).forEach((_, k) => {
        const p = [...base, "load_assignment", "endpoints", j, "lb_endpoints", k, "endpoint", "address", "socket_address"];
        const socket = socketAt(data, p, bad);
        if (socket !== undefined) endpoints.push({ ...socket, path: p });
      });
    });
    return { name: str(get(cluster, ["name"])) ?? `clusters[${i}]`, endpoints, where: where(base), path: base };
  });

  const wasmFilters: WasmFilterInfo[] = [];
  listenerList.forEach((listener, i) => {
    const listenerName = str(get(listener, ["name"])) ?? `listeners[${i}]`;
    asArray(get(listener, ["filter_chains"])).forEach((chain, j) => {
      asArray(get(chain, ["filters"])).forEach((filter, k) => {
        const filterPath = ["static_resources", "listeners", i, "filter_chains", j, "filters", k];
        const network = wasmFilterAt(data, filterPath, "network", listenerName, where);
        if (network !== undefined) wasmFilters.push(network);
        asArray(get(filter, ["typed_config", "http_filters"])).forEach((_, m) => {
          const http = wasmFilterAt(data, [...filterPath, "typed_config", "http_filters", m], "http", listenerName, where);
          if (http !== undefined) wasmFilters.push(http);
        });
      });
    });
  });

  asArray(get(data, ["bootstrap_extensions"])).forEach((_, i) => {
    const service = wasmFilterAt(data, ["bootstrap_extensions", i], "service", "", where);
    if (service !== undefined) wasmFilters.push(service);
  });

  return {
    file,
    display,
    text,
    doc,
    data,
    listeners,
    ...(adminSocket === undefined ? {} : { admin: { ...adminSocket, where: where([...adminPath, "port_value"]), addressPath: adminPath } }),
    clusters,
    wasmFilters,
    badPorts,
  };
}

export type WasmKind = "http" | "network" | "service";

const WASM_TYPES: Record<WasmKind, string> = { http: HTTP_WASM_TYPE, network: NETWORK_WASM_TYPE, service: WASM_SERVICE_TYPE };

const TYPED_STRUCTS = ["type.googleapis.com/udpa.type.v1.TypedStruct", "type.googleapis.com/xds.type.v3.TypedStruct"];

function wasmFilterAt(data: unknown, filterPath: DocPath, kind: WasmKind, listener: string, where: (p: DocPath) => string): WasmFilterInfo | undefined {
  const filter = get(data, filterPath);
  const typed = get(filter, ["typed_config"]);
  const type = str(get(typed, ["@type"]));
  const wanted = WASM_TYPES[kind];
  let configPath: DocPath;
  let typedStruct = false;
  if (type === wanted) configPath = [...filterPath, "typed_config", "config"];
  else if (type !== undefined && TYPED_STRUCTS.includes(type) && str(get(typed, ["type_url"])) === wanted) {
    configPath = [...filterPath, "typed_config", "value", "config"];
    typedStruct = true;
  } else return undefined;
  const config = get(data, configPath) ?? {};
  const vm = get(config, ["vm_config"]);
  const configuration = get(config, ["configuration"]);
  const configurationType = str(get(configuration, ["@type"]));
  const value = get(configuration, ["value"]);
  const filename = str(get(vm, ["code", "local", "filename"]));
  return {
    kind,
    listener,
    filterName: str(get(filter, ["name"])) ?? "",
    pluginName: str(get(config, ["name"])) ?? "",
    rootId: str(get(config, ["root_id"])) ?? "",
    vmId: str(get(vm, ["vm_id"])) ?? "",
    ...(typeof value === "string" ? { configuration: value } : {}),
    configurationType,
    filename,
    remote: get(vm, ["code", "remote"]) !== undefined,
    failurePolicy: failurePolicyOf(config),
    filterPath,
    configPath,
    typedStruct,
    where: where([...configPath, "vm_config", "code"]),
  };
}

/** What Envoy does when the plugin's VM fails: failure_policy, else the older fail_open, else FAIL_CLOSED. */
export function failurePolicyOf(config: unknown): FailurePolicy {
  const policy = get(config, ["failure_policy"]);
  if (policy === "FAIL_OPEN" || policy === "FAIL_RELOAD" || policy === "FAIL_CLOSED") return policy;
  return get(config, ["fail_open"]) === true ? "FAIL_OPEN" : "FAIL_CLOSED";
}

/** The failure policy that explains a trap: the first Wasm filter's (one VM traps at a time). */
export function failurePolicyIn(bootstrap: EnvoyBootstrap | undefined): FailurePolicy {
  return bootstrap?.wasmFilters[0]?.failurePolicy ?? "FAIL_CLOSED";
}

/** Every port Envoy binds: each listener's, then the admin's. */
export function boundPorts(bootstrap: EnvoyBootstrap): { what: string; address: string; port: number; where: string }[] {
  const out = bootstrap.listeners.map((l) => ({ what: `listener ${l.name}`, address: l.address, port: l.port, where: l.where }));
  if (bootstrap.admin !== undefined) out.push({ what: "admin", address: bootstrap.admin.address, port: bootstrap.admin.port, where: bootstrap.admin.where });
  return out;
}

export function isLoopback(address: string): boolean {
  return address === "localhost" || address === "::1" || /^127\./.test(address);
}

export function isAnyAddress(address: string): boolean {
  return address === "0.0.0.0" || address === "::" || address === "[::]";
}

// --- small readers over plain data -------------------------------------------------

export function get(value: unknown, p: DocPath): unknown {
  let current = value;
  for (const key of p) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** A socket_address's address and port; a port_value that is no port is passed to `bad`, with where it is. */
function socketAt(data: unknown, p: DocPath, bad: (at: DocPath, value: unknown) => void): SocketAddress | undefined {
  const socket = get(data, p);
  const address = str(get(socket, ["address"]));
  const port = get(socket, ["port_value"]);
  if (port === undefined) return undefined;
  const n = typeof port === "number" ? port : typeof port === "string" && /^\d+$/.test(port) ? Number(port) : undefined;
  if (n === undefined || !Number.isInteger(n) || n > 65535 || n < 0) {
    bad([...p, "port_value"], port);
    return undefined;
  }
  return address === undefined ? undefined : { address, port: n };
}

/** The listener a request meant for the plugin goes to: the first that runs a Wasm filter, else the first. */
export function pluginListener(bootstrap: EnvoyBootstrap): ListenerInfo | undefined {
  return bootstrap.listeners.find((l) => bootstrap.wasmFilters.some((f) => f.listener === l.name)) ?? bootstrap.listeners[0];
}
