import { readFile } from "node:fs/promises";
import { parse } from "yaml";

/**
 * Reading the parts of a project's envoy.yaml that envoywasm cares about.
 * envoy.yaml is the user's file and Envoy's to judge: these never fail on
 * what they do not understand, they just find less.
 */

export type FailurePolicy = "FAIL_CLOSED" | "FAIL_OPEN" | "FAIL_RELOAD";

export async function readEnvoyConfig(file: string): Promise<unknown> {
  try {
    return parse(await readFile(file, "utf8")) as unknown;
  } catch {
    return undefined;
  }
}

/** The first Wasm plugin config (the object holding vm_config), if any. */
export function wasmPluginConfig(node: unknown): Record<string, unknown> | undefined {
  if (node === null || typeof node !== "object") return undefined;
  const record = node as Record<string, unknown>;
  if (record.vm_config !== undefined && typeof record.vm_config === "object") return record;
  for (const value of Object.values(record)) {
    const found = wasmPluginConfig(value);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The failure policy of the first Wasm plugin in a parsed envoy.yaml (see failurePolicyOf). */
export function failurePolicyIn(doc: unknown): FailurePolicy {
  return failurePolicyOf(wasmPluginConfig(doc));
}

/** What Envoy does when the plugin's VM fails: failure_policy, else the older fail_open, else FAIL_CLOSED. */
export function failurePolicyOf(plugin: Record<string, unknown> | undefined): FailurePolicy {
  const policy = plugin?.failure_policy;
  if (policy === "FAIL_OPEN" || policy === "FAIL_RELOAD" || policy === "FAIL_CLOSED") return policy;
  return plugin?.fail_open === true ? "FAIL_OPEN" : "FAIL_CLOSED";
}
