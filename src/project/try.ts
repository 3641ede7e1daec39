import { get, pluginListener, type EnvoyBootstrap } from "../envoy/bootstrap.js";
import type { Project } from "./config.js";

export interface LegacyTryRequest {
  method: string;
  path: string;
  /** http://127.0.0.1:<port of the plugin's listener><path> */
  url: string;
  headers: Record<string, string>;
}

const CONFIG_REFERENCE = /\{config\.([\w.-]+)\}/g;

/**
 * envoywasm.yaml's `try:` requests, which projects made before the e2e cases
 * became the requests `up` suggests may still have (`envoywasm migrate` moves
 * them to e2e/try.yaml). Against the first listener that runs a Wasm filter;
 * `{config.<key>}` is taken from that filter's plugin configuration.
 */
export function legacyTryRequests(project: Project, bootstrap: EnvoyBootstrap): { requests: LegacyTryRequest[]; warnings: string[] } {
  const listener = pluginListener(bootstrap);
  if (listener === undefined) return { requests: [], warnings: [] };
  const warnings: string[] = [];
  let config: Record<string, unknown> | undefined;
  const configuration = bootstrap.wasmFilters.find((f) => f.listener === listener.name)?.configuration;
  try {
    const parsed: unknown = JSON.parse(configuration ?? "");
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) config = parsed as Record<string, unknown>;
  } catch {
    // Not JSON: references cannot be resolved (said below, if there are any).
  }
  const resolve = (text: string) =>
    text.replace(CONFIG_REFERENCE, (reference: string, key: string) => {
      const value = get(config, key.split("."));
      if (typeof value === "string" || typeof value === "number") return String(value);
      warnings.push(`try: ${reference} is not in the plugin configuration of listener ${listener.name} in ${bootstrap.display}`);
      return reference;
    });
  const requests = (project.config.try ?? []).map((r) => {
    const path = resolve(r.path);
    return {
      method: r.method ?? "GET",
      path,
      url: `http://127.0.0.1:${listener.port}${path}`,
      headers: Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [resolve(k), resolve(v)])),
    };
  });
  return { requests, warnings };
}
