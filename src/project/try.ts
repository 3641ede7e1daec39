import { get, type EnvoyBootstrap } from "../envoy/bootstrap.js";
import { shellQuote } from "../platform/exec.js";
import type { Project } from "./config.js";

export interface TryRequest {
  method: string;
  /** http://127.0.0.1:<port of the plugin's listener><path> */
  url: string;
  headers: Record<string, string>;
}

const CONFIG_REFERENCE = /\{config\.([\w.-]+)\}/g;

/**
 * envoywasm.yaml's `try:` requests (default GET /), against the first
 * listener that runs a Wasm filter. A header name or value may say
 * `{config.<key>}`: it is taken from that filter's plugin configuration in
 * envoy.yaml, so a request that needs, say, the auth plugin's key does not
 * state the key a second time.
 */
export function tryRequests(project: Project, bootstrap: EnvoyBootstrap): { requests: TryRequest[]; warnings: string[] } {
  const listener = bootstrap.listeners.find((l) => bootstrap.wasmFilters.some((f) => f.listener === l.name)) ?? bootstrap.listeners[0];
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
  const requests = (project.config.try ?? [{ path: "/" }]).map((r) => ({
    method: r.method ?? "GET",
    url: `http://127.0.0.1:${listener.port}${resolve(r.path)}`,
    headers: Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [resolve(k), resolve(v)])),
  }));
  return { requests, warnings };
}

/** A try: request as a curl line that works as printed. */
export function curlLine(r: TryRequest): string {
  const parts = ["curl", "-i"];
  if (r.method !== "GET") parts.push("-X", r.method);
  for (const [k, v] of Object.entries(r.headers)) parts.push("-H", shellQuote(`${k}: ${v}`));
  parts.push(r.url);
  return parts.join(" ");
}
