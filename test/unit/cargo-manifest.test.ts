import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { rewriteCargoToml, type CargoRewriteInput } from "../../src/scaffold/cargo-manifest.js";
import { planModulePaths, takeOverEnvoyConfig } from "../../src/envoy/adoption.js";

const SOURCE = "/src/sdk/examples/tagger";
const input = (extra: Partial<CargoRewriteInput> = {}): CargoRewriteInput => ({
  source: SOURCE,
  display: "plugin/Cargo.toml",
  sdkVersion: "0.2",
  resolved: { dependencies: [] },
  ...extra,
});

describe("rewriteCargoToml (init --from a Rust plugin)", () => {
  it("turns the SDK examples' path dependency into the crates.io version, keeping the rest of the file as it is", () => {
    const original = readFileSync(new URL("../fixtures/examples/rust-tagger/Cargo.toml", import.meta.url), "utf8");
    const { text, changes } = rewriteCargoToml(original, input());
    expect(text).toBe(original.replace('proxy-wasm = { path = "../../" }', 'proxy-wasm = "0.2"'));
    expect(changes).toEqual([
      'plugin/Cargo.toml: proxy-wasm = { path = "../../" } is now proxy-wasm = "0.2", from crates.io (the path points outside the adopted folder)',
    ]);
  });

  it("keeps the other keys of the dependency, a renamed SDK, and a table of its own", () => {
    const rewrite = (toml: string) => rewriteCargoToml(toml, input()).text;
    expect(rewrite('[dependencies]\nproxy-wasm = { path = "../..", features = ["mockalloc"] } # the SDK\n')).toBe(
      '[dependencies]\nproxy-wasm = { version = "0.2", features = ["mockalloc"] } # the SDK\n',
    );
    expect(rewrite('[dependencies]\nsdk = { package = "proxy-wasm", version = "0.3.0-dev", path = "/src/sdk" }\n')).toBe(
      '[dependencies]\nsdk = { version = "0.2", package = "proxy-wasm" }\n',
    );
    expect(rewrite('[dependencies.proxy-wasm]\nversion = "0.3.0-dev"\npath = "../../"\n\n[dependencies]\nlog = "0.4"\n')).toBe(
      '[dependencies.proxy-wasm]\nversion = "0.2"\n\n[dependencies]\nlog = "0.4"\n',
    );
    expect(rewrite('[target.\'cfg(target_arch = "wasm32")\'.dependencies]\nproxy-wasm = { path = "../.." }\n')).toBe(
      '[target.\'cfg(target_arch = "wasm32")\'.dependencies]\nproxy-wasm = "0.2"\n',
    );
  });

  it("leaves a path dependency inside the folder, and points one outside it that is not the SDK at the original, where it stays", () => {
    const inside = '[dependencies]\nhelper = { path = "helper" }\nproxy-wasm = "0.2"\n';
    expect(rewriteCargoToml(inside, input())).toEqual({ text: inside, changes: [] });
    const text =
      '[dependencies]\nproxy-wasm = { path = "../.." }\nshared = { path = "../shared", features = ["x"] }\n\n[dependencies.other]\npath = "../../other"\n';
    const out = rewriteCargoToml(text, input());
    const shared = path.resolve(SOURCE, "../shared");
    const other = path.resolve(SOURCE, "../../other");
    expect(out.text).toBe(`[dependencies]\nproxy-wasm = "0.2"\nshared = { path = "${shared}", features = ["x"] }\n\n[dependencies.other]\npath = "${other}"\n`);
    expect(out.changes).toContain(`plugin/Cargo.toml: shared's path ../shared now names ${shared} (the copy still builds with it; it must stay there)`);
    expect(out.changes).toContain(`plugin/Cargo.toml: other's path ../../other now names ${other} (the copy still builds with it; it must stay there)`);
  });

  it("makes a workspace member stand on its own: inherited fields written in as cargo read them, and [workspace] added", () => {
    const member = [
      "[package]",
      'name = "member"',
      "version.workspace = true",
      "edition = { workspace = true }",
      'workspace = "../.."',
      "publish.workspace = true",
      "",
      "[lib]",
      'crate-type = ["cdylib"]',
      "",
      "[dependencies]",
      "log.workspace = true",
      'serde_json = { workspace = true, features = ["std"] }',
      'proxy-wasm = { path = "../../sdk" }',
      "",
    ].join("\n");
    const { text, changes } = rewriteCargoToml(
      member,
      input({
        parentWorkspace: "/src/repo",
        resolved: {
          version: "1.2.3",
          edition: "2021",
          publish: [],
          dependencies: [
            { name: "log", rename: null, req: "^0.4.20", source: "registry+https://github.com/rust-lang/crates.io-index", kind: null },
            { name: "serde_json", rename: null, req: "^1", source: "registry+https://github.com/rust-lang/crates.io-index", kind: null },
          ],
        },
      }),
    );
    expect(text).toBe(
      [
        "[package]",
        'name = "member"',
        'version = "1.2.3"',
        'edition = "2021"',
        "publish = false",
        "",
        "[lib]",
        'crate-type = ["cdylib"]',
        "",
        "[dependencies]",
        'log = "^0.4.20"',
        'serde_json = { version = "^1", features = ["std"] }',
        'proxy-wasm = "0.2"',
        "",
        "# Its own workspace: the one it belonged to (/src/repo) is not part of this project.",
        "[workspace]",
        "",
      ].join("\n"),
    );
    expect(changes).toEqual([
      'plugin/Cargo.toml: dropped `workspace = "../.."` (it names the parent workspace, which is not copied)',
      'plugin/Cargo.toml: proxy-wasm = { path = "../../sdk" } is now proxy-wasm = "0.2", from crates.io (the path points outside the adopted folder)',
      "plugin/Cargo.toml: version, edition, publish, dependency log, dependency serde_json came from the workspace at /src/repo: written in, as cargo read them",
      "plugin/Cargo.toml: added [workspace], so the package builds on its own (it was a member of the workspace at /src/repo)",
    ]);
  });
});

describe("takeOverEnvoyConfig, for the Rust SDK's examples' envoy.yaml", () => {
  it("makes a listener written as one mapping a list, adds the admin interface envoywasm needs, and says so", () => {
    const original = readFileSync(new URL("../fixtures/examples/rust-tagger/envoy.yaml", import.meta.url), "utf8");
    const { text, changes, backendCluster, listenerPort } = takeOverEnvoyConfig(original, "envoy.yaml", {
      modules: (f) => planModulePaths(f, "envoy.yaml", "tagged", []),
    });
    expect(changes).toEqual([
      "envoy.yaml: static_resources.listeners is now a list of one (it was written as one mapping, which Envoy reads the same way)",
      "envoy.yaml: the module path /etc/envoy/proxy-wasm-plugins/proxy_wasm_example_tagger.wasm is now build/tagged.wasm, where `envoywasm build` writes it",
      "envoy.yaml: listener listeners[0] now binds 127.0.0.1:10000 instead of 0.0.0.0 (loopback only)",
      "envoy.yaml: added an admin interface on 127.0.0.1:8001 (envoywasm asks it whether Envoy is ready)",
      "envoy.yaml: cluster httpbin went to httpbin:8080; it now goes to the project's backend on 127.0.0.1:8080 (httpbin-style endpoints)",
    ]);
    expect({ backendCluster, listenerPort }).toEqual({ backendCluster: "httpbin", listenerPort: 10000 });
    expect(text).toContain("# Laid out like the Rust SDK's examples");
    expect(text).toMatch(/^ {2}listeners:\n {4}- address:\n/m);
    expect(text).toMatch(/^admin:\n {2}address:\n {4}socket_address:\n {6}address: 127\.0\.0\.1\n {6}port_value: 8001\n/m);
  });
});
