import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { failurePolicyOf, wasmPluginConfig } from "../../src/lib/envoy-config.js";

const doc = (plugin: string) =>
  parse(`static_resources:
  listeners:
    - filter_chains:
        - filters:
            - typed_config:
                http_filters:
                  - name: envoy.filters.http.wasm
                    typed_config:
                      config:
                        name: p
${plugin
  .split("\n")
  .map((l) => `                        ${l}`)
  .join("\n")}
                        vm_config: { vm_id: p }
`) as unknown;

describe("envoy.yaml's Wasm plugin config", () => {
  it("finds the plugin config and its failure policy", () => {
    expect(wasmPluginConfig(doc("root_id: r"))).toMatchObject({ name: "p", root_id: "r" });
    expect(failurePolicyOf(wasmPluginConfig(doc("failure_policy: FAIL_RELOAD")))).toBe("FAIL_RELOAD");
    expect(failurePolicyOf(wasmPluginConfig(doc("failure_policy: FAIL_OPEN")))).toBe("FAIL_OPEN");
    expect(failurePolicyOf(wasmPluginConfig(doc("fail_open: true")))).toBe("FAIL_OPEN");
    expect(failurePolicyOf(wasmPluginConfig(doc("root_id: r")))).toBe("FAIL_CLOSED");
    expect(wasmPluginConfig({ admin: {} })).toBeUndefined();
    expect(failurePolicyOf(undefined)).toBe("FAIL_CLOSED");
  });
});
