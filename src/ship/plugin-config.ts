import { UserError } from "../errors.js";
import type { WasmFilterInfo } from "../envoy/bootstrap.js";

/**
 * The plugin configuration from envoy.yaml as the object Istio's pluginConfig
 * and Envoy Gateway's config take. Both hand the plugin that object as JSON,
 * so only a configuration that is a JSON object survives the trip unchanged.
 * Undefined when envoy.yaml gives the plugin no configuration.
 */
export function pluginConfigObject(filter: WasmFilterInfo, target: string): Record<string, unknown> | undefined {
  if (filter.configuration === undefined) {
    if (filter.configurationType !== undefined) {
      throw new UserError(`${filter.where}: the plugin configuration is a ${filter.configurationType}, which ${target} cannot carry`, {
        hint: 'write it as a google.protobuf.StringValue holding a JSON object, e.g. value: \'{"header": "x-hello"}\'',
      });
    }
    return undefined;
  }
  if (filter.configuration.trim() === "") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(filter.configuration);
  } catch (error) {
    throw new UserError(
      `${filter.where}: the plugin configuration is not JSON (${(error as Error).message}), and ${target} passes it to the plugin as a JSON object`,
      {
        hint: "write the configuration in envoy.yaml as a JSON object, or use `envoywasm export envoy`, which keeps it as written",
      },
    );
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new UserError(
      `${filter.where}: the plugin configuration is JSON ${Array.isArray(parsed) ? "array" : parsed === null ? "null" : typeof parsed}, but ${target} takes a JSON object`,
      {
        hint: 'wrap it in an object, e.g. {"value": …}, and read it that way in the plugin; or use `envoywasm export envoy`',
      },
    );
  }
  return parsed as Record<string, unknown>;
}
