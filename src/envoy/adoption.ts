import path from "node:path";
import { isMap, isScalar, parseDocument, YAMLSeq, type Document } from "yaml";
import { UsageError, UserError } from "../errors.js";
import { asArray, get, isAnyAddress, isLoopback, parseBootstrap, type DocPath } from "./bootstrap.js";
import { DEFAULT_PORTS } from "./default-ports.js";

export interface TakeOver {
  text: string;
  changes: string[];
  backendCluster?: string;
  listenerPort?: number;
  /** With several modules: the source's main-package folders that build them (listeners' filters first, then services; one module: none). */
  pluginFolders: string[];
}

/** Where each module envoy.yaml loads will be built, and from which folder of the adopted one. */
export interface ModulePlan {
  paths: ReadonlyMap<string, string>;
  folders: string[];
}

/**
 * One module: build/<name>.wasm, built from the adopted folder. Several (the
 * Go SDK's shared_queue: a sender and a receiver of one go.mod): each from
 * the main package whose folder ends its path (…/receiver/main.wasm from
 * receiver/), else the one named as the file (sender.wasm from cmd/sender/),
 * as build/<folder>.wasm; `mainPackages` are those folders,
 * relative to the adopted one ("" for itself).
 */
export function planModulePaths(filenames: readonly string[], display: string, name: string, mainPackages: readonly string[]): ModulePlan {
  if (filenames.length === 1) return { paths: new Map([[filenames[0]!, `build/${name}.wasm`]]), folders: [] };
  const refuse = (why: string) =>
    new UserError(`${display} loads ${filenames.length} different modules (${filenames.join(", ")}); ${why}`, {
      hint:
        "make the project with `envoywasm init`, copy each plugin into a folder of its own with its own go.mod (or Cargo.toml), " +
        "list the folders under plugins: in envoywasm.yaml and load each as build/<folder>.wasm in envoy.yaml (docs/configuration.md#several-plugins)",
    });
  const paths = new Map<string, string>();
  const folders: string[] = [];
  for (const file of filenames) {
    const dir = file
      .replace(/\\/g, "/")
      .replace(/^(\.\/)+/, "")
      .split("/")
      .slice(0, -1)
      .join("/");
    // Else the one main package named as the file is (a Makefile's `go build -o sender.wasm ./cmd/sender`).
    const stem = path.posix.basename(file.replace(/\\/g, "/"), ".wasm");
    const named = mainPackages.filter((m) => m !== "" && m.split("/").pop() === stem);
    const folder =
      mainPackages.filter((m) => m !== "" && (dir === m || dir.endsWith(`/${m}`))).sort((a, b) => b.length - a.length)[0] ??
      (named.length === 1 ? named[0] : undefined);
    if (folder === undefined)
      throw refuse(`init --from adopts them only from main packages in folders named as their paths end, or as their files are named (${file}: none)`);
    const built = `build/${folder.split("/").pop()!}.wasm`;
    if (folders.includes(folder) || [...paths.values()].includes(built)) throw refuse(`two of them would be built from ${folder}/ or as ${built}`);
    paths.set(file, built);
    folders.push(folder);
  }
  return { paths, folders };
}

/**
 * Rewrites an adopted envoy.yaml so it runs as a project: each module path
 * to where `build` writes, 0.0.0.0 to 127.0.0.1, clusters that leave the
 * machine to the project's backend, and the ports the flags ask for. Edits
 * the YAML in place, so comments and layout stay.
 */
export function takeOverEnvoyConfig(
  text: string,
  display: string,
  want: {
    modules: (filenames: readonly string[]) => ModulePlan;
    listenerPort?: number;
    adminPort?: number;
    backendPort?: number;
    /** The other configs found in the adopted folder, for a hint. */
    otherConfigs?: readonly string[];
  },
): TakeOver {
  const changes: string[] = [];
  const say = (what: string) => changes.push(`envoy.yaml: ${what}`);
  let model = parseBootstrap(text, display, display);
  // Envoy reads a repeated field written as one mapping as a list of one (the Rust SDK's examples
  // write `listeners:` so); envoywasm reads and edits lists.
  const single = (["listeners", "clusters"] as const).filter((field) => isMap(model.doc.getIn(["static_resources", field], true)));
  if (single.length > 0) {
    for (const field of single) {
      const seq = new YAMLSeq();
      seq.items.push(model.doc.getIn(["static_resources", field], true));
      model.doc.setIn(["static_resources", field], seq);
      say(`static_resources.${field} is now a list of one (it was written as one mapping, which Envoy reads the same way)`);
    }
    model = parseBootstrap(model.doc.toString({ lineWidth: 0 }), display, display);
  }
  const doc: Document = model.doc;

  const filenames = new Set(model.wasmFilters.map((f) => f.filename).filter((f): f is string => f !== undefined));
  if (filenames.size === 0) {
    // Envoy's v2 API (`config:` on a filter, old tutorials): its Wasm filter is there, but no Envoy since 1.18 reads it.
    const v2 = asArray(get(model.data, ["static_resources", "listeners"]))
      .flatMap((l) => asArray(get(l, ["filter_chains"])).flatMap((c) => asArray(get(c, ["filters"]))))
      .flatMap((f) => [f, ...asArray(get(f, ["config", "http_filters"]))])
      .find((f) => get(f, ["config"]) !== undefined && get(f, ["typed_config"]) === undefined);
    if (v2 !== undefined) {
      throw new UserError(
        `${display} is written for Envoy's v2 API (filter ${String(get(v2, ["name"]))} has config:, not typed_config:), which Envoy 1.18 and later do not read`,
        {
          hint: "rewrite it for the v3 API (each filter's typed_config with its \"@type\", a cluster's hosts: as load_assignment), or take a fresh one instead: --envoy-config none",
        },
      );
    }
    throw new UserError(`${display} loads no Wasm module from a local file (vm_config.code.local.filename)`, {
      hint: "envoywasm builds the plugin to a local file: add a Wasm filter that loads it, or take a fresh config instead: --envoy-config none",
    });
  }
  const plan = want.modules([...filenames]);
  for (const filter of model.wasmFilters) {
    if (filter.filename === undefined) continue;
    doc.setIn([...filter.configPath, "vm_config", "code", "local", "filename"], plan.paths.get(filter.filename)!);
  }
  [...plan.paths].forEach(([from, to], i) =>
    say(`the module path ${from} is now ${to}${plan.folders.length === 0 ? "" : ` (built from ${plan.folders[i]}/)`}, where \`envoywasm build\` writes it`),
  );
  for (const bad of model.badPorts) {
    say(`port_value ${JSON.stringify(bad.value)} (${bad.where}) is no port: put one there before \`envoywasm up\``);
  }

  const oldAdmin = model.admin?.port;
  const taken = new Set<number>([...model.listeners.map((l) => l.port), ...(oldAdmin === undefined ? [] : [oldAdmin])]);
  const rebind = (p: DocPath, what: string, address: string, port: number) => {
    if (isAnyAddress(address) || address === "::1" || address === "localhost") {
      doc.setIn([...p, "address"], "127.0.0.1");
      say(`${what} now binds 127.0.0.1:${port} instead of ${address} (${isAnyAddress(address) ? "loopback only" : "envoywasm reaches Envoy over IPv4"})`);
    }
  };
  const wasmListener = (model.wasmFilters.find((f) => f.listener !== "") ?? model.wasmFilters[0]!).listener;
  for (const listener of model.listeners) {
    let port = listener.port;
    if (want.listenerPort !== undefined && listener.name === wasmListener && port !== want.listenerPort) {
      doc.setIn([...listener.addressPath, "port_value"], want.listenerPort);
      say(`listener ${listener.name} listens on port ${want.listenerPort} instead of ${port} (--listener-port)`);
      port = want.listenerPort;
    }
    rebind(listener.addressPath, `listener ${listener.name}`, listener.address, port);
  }
  const listenerPort = want.listenerPort ?? model.listeners.find((l) => l.name === wasmListener)?.port;
  if (model.admin === undefined) {
    let port = want.adminPort ?? DEFAULT_PORTS.admin;
    while (want.adminPort === undefined && taken.has(port)) port++;
    taken.add(port);
    doc.set("admin", doc.createNode({ address: { socket_address: { address: "127.0.0.1", port_value: port } } }));
    say(`added an admin interface on 127.0.0.1:${port} (envoywasm asks it whether Envoy is ready)`);
  } else {
    let port = model.admin.port;
    if (want.adminPort !== undefined && want.adminPort !== port) {
      doc.setIn([...model.admin.addressPath, "port_value"], want.adminPort);
      say(`the admin interface listens on port ${want.adminPort} instead of ${port} (--admin-port)`);
      port = want.adminPort;
    }
    rebind(model.admin.addressPath, "the admin interface", model.admin.address, port);
  }

  let backendCluster: string | undefined;
  // Envoy's own ports; then every port a cluster reaches on this machine, which the backend must not take.
  const envoyPorts = new Set([...taken, ...(listenerPort === undefined ? [] : [listenerPort])]);
  for (const cluster of model.clusters) for (const e of cluster.endpoints) if (isLoopback(e.address) || isAnyAddress(e.address)) taken.add(e.port);
  let backendPort = want.backendPort ?? DEFAULT_PORTS.backend;
  while (want.backendPort === undefined && taken.has(backendPort)) backendPort++;
  for (const cluster of model.clusters) {
    let leaves = false;
    for (const endpoint of cluster.endpoints) {
      if (isAnyAddress(endpoint.address)) {
        doc.setIn([...endpoint.path, "address"], "127.0.0.1");
        say(`cluster ${cluster.name} connects to 127.0.0.1:${endpoint.port} instead of ${endpoint.address}`);
      }
      if (isLoopback(endpoint.address) || isAnyAddress(endpoint.address)) {
        if (oldAdmin !== undefined && want.adminPort !== undefined && endpoint.port === oldAdmin) {
          doc.setIn([...endpoint.path, "port_value"], want.adminPort);
          say(`cluster ${cluster.name} follows the admin interface to port ${want.adminPort}`);
        } else if (!envoyPorts.has(endpoint.port)) {
          say(`cluster ${cluster.name} goes to 127.0.0.1:${endpoint.port}, which envoywasm does not start: run that service yourself`);
        }
        continue;
      }
      leaves = true;
      const before = `${endpoint.address}:${endpoint.port}`;
      doc.setIn([...endpoint.path, "address"], "127.0.0.1");
      doc.setIn([...endpoint.path, "port_value"], backendPort);
      say(`cluster ${cluster.name} went to ${before}; it now goes to the project's backend on 127.0.0.1:${backendPort} (httpbin-style endpoints)`);
    }
    if (!leaves) continue;
    backendCluster ??= cluster.name;
    if (speaksHttp2(model.data, cluster.name)) {
      say(
        `cluster ${cluster.name} speaks HTTP/2 (gRPC) to its upstream, and the backend answers HTTP/1.1 only: calls to it fail until it points at a server of yours`,
      );
    }
    if (get(model.data, [...cluster.path, "transport_socket"]) !== undefined) {
      doc.deleteIn([...cluster.path, "transport_socket"]);
      say(`cluster ${cluster.name}: removed its TLS transport_socket (the backend speaks plain HTTP)`);
    }
  }
  if (want.backendPort !== undefined && backendCluster === undefined) {
    const others = want.otherConfigs ?? [];
    throw new UsageError(`--backend-port: ${display} has no cluster that leaves the machine, so the project gets no backend`, {
      hint: `drop --backend-port (the project runs without a backend)${others.length === 0 ? "" : `, or take another of the folder's configs with --envoy-config (${others.join(", ")})`}`,
    });
  }
  // Envoy resolves an IP literal in a DNS cluster too; nothing else to change.
  return { text: doc.toString({ lineWidth: 0 }), changes, backendCluster, listenerPort, pluginFolders: plan.folders };
}

/**
 * A fresh envoy.yaml (from the template) for a plugin that makes only TCP
 * contexts: its listener runs the Wasm module as a network filter, then a
 * tcp_proxy to the backend, where the template has an HTTP filter chain.
 */
export function asNetworkFilter(text: string, backendCluster: string): string {
  const doc = parseDocument(text);
  const filters = ["static_resources", "listeners", 0, "filter_chains", 0, "filters"];
  const config = doc.getIn([...filters, 0, "typed_config", "http_filters", 0, "typed_config", "config"], true);
  const policy = isMap(config) ? config.items.find((pair) => isScalar(pair.key) && pair.key.value === "failure_policy") : undefined;
  if (policy !== undefined && isScalar(policy.key)) policy.key.commentBefore = " A VM that fails closes connections rather than letting them through.";
  doc.setIn(
    filters,
    doc.createNode([
      { name: "envoy.filters.network.wasm", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm", config } },
      {
        name: "envoy.filters.network.tcp_proxy",
        typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", stat_prefix: "tcp", cluster: backendCluster },
      },
    ]),
  );
  // The template's opening comment, told of connections.
  return doc.toString({ lineWidth: 0 }).replace("# request through the Wasm plugin, then routes it", "# connection through the Wasm plugin, then proxies it");
}

/** A cluster of the config that speaks HTTP/2 (gRPC) to its upstream, which the generated backend (HTTP/1.1) cannot answer. */
export function speaksHttp2(data: unknown, clusterName: string): boolean {
  const cluster = asArray(get(data, ["static_resources", "clusters"])).find((c) => get(c, ["name"]) === clusterName);
  return JSON.stringify(cluster ?? {}).includes('"http2_protocol_options"');
}
