import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { boundPorts, loadBootstrap, parseBootstrap } from "../../src/envoy/bootstrap.js";
import { deriveConfig } from "../../src/envoy/derive.js";
import { planModulePaths, takeOverEnvoyConfig } from "../../src/envoy/adoption.js";
import { UserError } from "../../src/errors.js";
import { backendTarget } from "../../src/project/backend.js";
import { tryRequests } from "../../src/run/e2e/try-requests.js";
import { starterCase } from "../../src/scaffold/starter-case.js";
import { streamContexts } from "../../src/scaffold/plugin-contexts.js";
import { resolvePlugins } from "../../src/build/plugins.js";
import type { Project } from "../../src/project/config.js";

/** A config laid out like the proxy-wasm Go SDK's examples: TypedStruct, 0.0.0.0, a static-reply listener, httpbin. */
const EXAMPLE = `static_resources:
  listeners:
    - name: main
      address:
        socket_address: { address: 0.0.0.0, port_value: 18000 }
      filter_chains:
        - filters:
            - name: envoy.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress_http
                route_config:
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes: [{ match: { prefix: "/" }, route: { cluster: httpbin } }]
                http_filters:
                  - name: envoy.filters.http.wasm
                    typed_config:
                      "@type": type.googleapis.com/udpa.type.v1.TypedStruct
                      type_url: type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
                      value:
                        config:
                          configuration:
                            "@type": type.googleapis.com/google.protobuf.StringValue
                            value: |
                              {"header": "x-wasm-header"}
                          vm_config:
                            runtime: "envoy.wasm.runtime.v8"
                            code:
                              local:
                                filename: "./examples/http_headers/main.wasm"
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
    - name: staticreply
      address:
        socket_address: { address: 127.0.0.1, port_value: 8099 }
  clusters:
    - name: httpbin
      type: LOGICAL_DNS
      load_assignment:
        cluster_name: httpbin
        endpoints:
          - lb_endpoints:
              - endpoint:
                  address:
                    socket_address: { address: httpbin.org, port_value: 443 }
      transport_socket:
        name: envoy.transport_sockets.tls
    - name: admin
      load_assignment:
        endpoints:
          - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 0.0.0.0, port_value: 8001 } } }
admin:
  access_log_path: "/dev/null"
  address:
    socket_address:
      address: 0.0.0.0
      port_value: 8001
`;

describe("reading envoy.yaml", () => {
  it("finds every listener port, the admin port, clusters and the Wasm filter inside a TypedStruct", () => {
    const b = parseBootstrap(EXAMPLE, "/x/envoy.yaml", "envoy.yaml");
    expect(boundPorts(b).map((p) => [p.what, p.address, p.port])).toEqual([
      ["listener main", "0.0.0.0", 18000],
      ["listener staticreply", "127.0.0.1", 8099],
      ["admin", "0.0.0.0", 8001],
    ]);
    expect(b.listeners[1]!.where).toBe("envoy.yaml:38");
    expect(b.clusters.map((c) => [c.name, c.endpoints.map((e) => `${e.address}:${e.port}`)])).toEqual([
      ["httpbin", ["httpbin.org:443"]],
      ["admin", ["0.0.0.0:8001"]],
    ]);
    expect(b.wasmFilters).toHaveLength(1);
    expect(b.wasmFilters[0]).toMatchObject({
      kind: "http",
      listener: "main",
      typedStruct: true,
      filename: "./examples/http_headers/main.wasm",
      configuration: '{"header": "x-wasm-header"}\n',
      pluginName: "",
      failurePolicy: "FAIL_CLOSED",
    });
  });

  it("finds the backend's cluster and port, and says what is wrong with one it cannot serve", () => {
    const project = { config: { backend: { dir: "backend" } } } as unknown as Project;
    const withBackend = (address: string, port: string) =>
      parseBootstrap(
        `static_resources:\n  clusters:\n    - name: backend\n      load_assignment:\n        cluster_name: backend\n        endpoints:\n          - lb_endpoints:\n              - endpoint:\n                  address:\n                    socket_address: { address: ${address}, port_value: ${port} }\n`,
        "/x/envoy.yaml",
        "envoy.yaml",
      );
    expect(backendTarget(project, withBackend("127.0.0.1", "8080"))).toEqual({ cluster: "backend", port: 8080 });
    expect(() => backendTarget(project, withBackend("127.0.0.1", '"abc"'))).toThrow(
      "cluster backend (envoy.yaml:3) has no endpoint with an address and a numeric port_value for the backend to serve",
    );
    expect(() => backendTarget(project, withBackend("example.com", "80"))).toThrow(
      "cluster backend (envoy.yaml:3) does not point at this machine, so the backend cannot serve it",
    );
  });

  it("reads the failure policy: failure_policy, else fail_open, else FAIL_CLOSED", () => {
    const withPolicy = (line: string) =>
      parseBootstrap(
        EXAMPLE.replace("                          vm_config:", `                          ${line}\n                          vm_config:`),
        "f",
        "f",
      ).wasmFilters[0]!.failurePolicy;
    expect(withPolicy("failure_policy: FAIL_RELOAD")).toBe("FAIL_RELOAD");
    expect(withPolicy("failure_policy: FAIL_OPEN")).toBe("FAIL_OPEN");
    expect(withPolicy("fail_open: true")).toBe("FAIL_OPEN");
    expect(withPolicy("name: p")).toBe("FAIL_CLOSED");
  });

  it("a port_value that is no port: the project's config is refused on its line; an adopted one keeps it and says so", async () => {
    const withPorts = (listener: string, cluster: string) =>
      EXAMPLE.replace("port_value: 18000", `port_value: ${listener}`).replace("port_value: 443", `port_value: ${cluster}`);
    const dir = await mkdtemp(path.join(os.tmpdir(), "envoywasm-ports-"));
    try {
      for (const [value, shown] of [
        ["70000", "70000"],
        ["-5", "-5"],
        ["1.5", "1.5"],
        ["LISTEN_PORT", '"LISTEN_PORT"'],
      ]) {
        await writeFile(path.join(dir, "envoy.yaml"), withPorts(value!, "443"));
        const line =
          withPorts(value!, "443")
            .split("\n")
            .findIndex((l) => l.includes(`port_value: ${value}`)) + 1;
        await expect(loadBootstrap(path.join(dir, "envoy.yaml"), "envoy.yaml")).rejects.toThrow(
          `envoy.yaml:${line}: port_value must be a whole number from 0 to 65535 (got ${shown})`,
        );
      }
      await writeFile(path.join(dir, "envoy.yaml"), withPorts('"18000"', "443"));
      expect((await loadBootstrap(path.join(dir, "envoy.yaml"), "envoy.yaml")).listeners[0]!.port).toBe(18000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const ipv6 = takeOverEnvoyConfig(EXAMPLE.replace("address: 0.0.0.0, port_value: 18000", 'address: "::1", port_value: 18000'), "src/envoy.yaml", {
      modules: (f) => planModulePaths(f, "envoy.yaml", "hh", []),
    });
    expect(ipv6.changes).toContain("envoy.yaml: listener main now binds 127.0.0.1:18000 instead of ::1 (envoywasm reaches Envoy over IPv4)");
    const taken = takeOverEnvoyConfig(withPorts("18000", "UPSTREAM_PORT"), "src/envoy.yaml", { modules: (f) => planModulePaths(f, "envoy.yaml", "hh", []) });
    const line =
      withPorts("18000", "UPSTREAM_PORT")
        .split("\n")
        .findIndex((l) => l.includes("UPSTREAM_PORT")) + 1;
    expect(taken.changes).toContain(`envoy.yaml: port_value "UPSTREAM_PORT" (src/envoy.yaml:${line}) is no port: put one there before \`envoywasm up\``);
  });

  it("says where a YAML syntax error is", () => {
    expect(() => parseBootstrap("admin:\n  address: [\n", "f", "envoy.yaml")).toThrow(/^envoy\.yaml:\d+:\d+: invalid YAML/);
  });

  it("reads the project's own template the same way", () => {
    const text = readFileSync(new URL("../../templates/common/envoy.yaml", import.meta.url), "utf8")
      .replaceAll("{{listenerPort}}", "8085")
      .replaceAll("{{adminPort}}", "8001")
      .replaceAll("{{backendPort}}", "8080")
      .replace("{{pluginConfigBlock}}", "{}")
      .replace(/\{\{\w+\}\}/g, "p");
    const b = parseBootstrap(text, "f", "envoy.yaml");
    expect(b.wasmFilters[0]).toMatchObject({ pluginName: "p", rootId: "p", vmId: "p", filename: "p", configuration: "{}\n" });
    expect(b.clusters[0]!.endpoints[0]).toMatchObject({ address: "127.0.0.1", port: 8080 });
  });
});

describe("adopting an envoy.yaml (init --from)", () => {
  it("rewrites the module path, rebinds 0.0.0.0, points httpbin at the backend, says each change, keeps comments", () => {
    const taken = takeOverEnvoyConfig(`# my notes\n${EXAMPLE}`, "src/envoy.yaml", { modules: (f) => planModulePaths(f, "envoy.yaml", "hh", []) });
    const b = parseBootstrap(taken.text, "f", "envoy.yaml");
    expect(taken.text.startsWith("# my notes\n")).toBe(true);
    expect(b.wasmFilters[0]!.filename).toBe("build/hh.wasm");
    expect(boundPorts(b).every((p) => p.address === "127.0.0.1")).toBe(true);
    expect(b.clusters[0]!.endpoints[0]).toMatchObject({ address: "127.0.0.1", port: 8080 });
    expect(taken.text).not.toContain("transport_socket");
    expect(taken.backendCluster).toBe("httpbin");
    expect(taken.listenerPort).toBe(18000);
    expect(taken.changes).toEqual([
      "envoy.yaml: the module path ./examples/http_headers/main.wasm is now build/hh.wasm, where `envoywasm build` writes it",
      "envoy.yaml: listener main now binds 127.0.0.1:18000 instead of 0.0.0.0 (loopback only)",
      "envoy.yaml: the admin interface now binds 127.0.0.1:8001 instead of 0.0.0.0 (loopback only)",
      "envoy.yaml: cluster httpbin went to httpbin.org:443; it now goes to the project's backend on 127.0.0.1:8080 (httpbin-style endpoints)",
      "envoy.yaml: cluster httpbin: removed its TLS transport_socket (the backend speaks plain HTTP)",
      "envoy.yaml: cluster admin connects to 127.0.0.1:8001 instead of 0.0.0.0",
    ]);
  });

  it("a plugin run as a service (bootstrap_extensions, like the Rust SDK's hello_world): its module path taken over, and run without discovery", () => {
    const service = [
      "bootstrap_extensions:",
      "  - name: envoy.bootstrap.wasm",
      "    typed_config:",
      '      "@type": type.googleapis.com/envoy.extensions.wasm.v3.WasmService',
      "      singleton: true",
      "      config:",
      '        name: "hello_world"',
      "        vm_config:",
      '          runtime: "envoy.wasm.runtime.v8"',
      "          code:",
      "            local:",
      '              filename: "/etc/envoy/proxy-wasm-plugins/hello.wasm"',
      "",
    ].join("\n");
    const taken = takeOverEnvoyConfig(service, "envoy.yaml", { modules: (f) => planModulePaths(f, "envoy.yaml", "hello", []) });
    const b = parseBootstrap(taken.text, "f", "envoy.yaml");
    expect(b.wasmFilters).toMatchObject([{ kind: "service", listener: "", pluginName: "hello_world", filename: "build/hello.wasm" }]);
    expect(b.listeners).toEqual([]);
    expect(taken.changes[0]).toBe(
      "envoy.yaml: the module path /etc/envoy/proxy-wasm-plugins/hello.wasm is now build/hello.wasm, where `envoywasm build` writes it",
    );
    const derived = deriveConfig(b, { nodeId: "p", ecdsDir: "/e", moduleFor: () => "/m/abc.wasm", envoyPath: (x) => x, openBinds: false });
    expect(derived.resources).toEqual([]);
    expect(derived.text).not.toContain("config_discovery");
    expect(derived.text).toContain("filename: /m/abc.wasm");
    expect(derived.text).toContain("singleton: true");
  });

  it("applies port flags, and a cluster that pointed at the admin port follows it", () => {
    const taken = takeOverEnvoyConfig(EXAMPLE, "e", {
      modules: (f) => planModulePaths(f, "envoy.yaml", "x", []),
      listenerPort: 9000,
      adminPort: 9001,
      backendPort: 9002,
    });
    const b = parseBootstrap(taken.text, "f", "envoy.yaml");
    expect(boundPorts(b).map((p) => p.port)).toEqual([9000, 8099, 9001]);
    expect(b.clusters.map((c) => c.endpoints[0]!.port)).toEqual([9002, 9001]);
  });

  it("says when a cluster sent to the backend speaks HTTP/2 (gRPC), which the backend does not", () => {
    const grpc = EXAMPLE.replace("      transport_socket:\n", "      http2_protocol_options: {}\n      transport_socket:\n");
    const taken = takeOverEnvoyConfig(grpc, "e", { modules: (f) => planModulePaths(f, "envoy.yaml", "x", []) });
    expect(taken.changes).toContain(
      "envoy.yaml: cluster httpbin speaks HTTP/2 (gRPC) to its upstream, and the backend answers HTTP/1.1 only: calls to it fail until it points at a server of yours",
    );
    expect(takeOverEnvoyConfig(EXAMPLE, "e", { modules: (f) => planModulePaths(f, "envoy.yaml", "x", []) }).changes.join("\n")).not.toContain("HTTP/2");
  });

  it("keeps the backend off the ports clusters reach on this machine, and says which of those envoywasm does not start", () => {
    const local = EXAMPLE.replace(
      "    - name: admin\n",
      "    - name: grpc\n      load_assignment:\n        endpoints:\n          - lb_endpoints:\n              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 8080 } } }\n    - name: admin\n",
    );
    const taken = takeOverEnvoyConfig(local, "e", { modules: (f) => planModulePaths(f, "envoy.yaml", "x", []) });
    expect(taken.changes).toContain("envoy.yaml: cluster grpc goes to 127.0.0.1:8080, which envoywasm does not start: run that service yourself");
    expect(taken.changes).toContain(
      "envoy.yaml: cluster httpbin went to httpbin.org:443; it now goes to the project's backend on 127.0.0.1:8081 (httpbin-style endpoints)",
    );
    // The admin interface's own port is Envoy's: nothing to say of the cluster that reaches it.
    expect(taken.changes.join("\n")).not.toContain("cluster admin goes to");
  });

  it("refuses --backend-port for a config with no cluster that leaves the machine, naming the file and the other configs found", () => {
    const local = EXAMPLE.replace("address: httpbin.org, port_value: 443", "address: 127.0.0.1, port_value: 4443");
    const take = () =>
      takeOverEnvoyConfig(local, "src/test/fixtures/envoy.yaml", {
        modules: (f) => planModulePaths(f, "envoy.yaml", "x", []),
        backendPort: 9002,
        otherConfigs: ["src/example/envoy/envoy.yaml"],
      });
    expect(take).toThrow(
      expect.objectContaining({
        exitCode: 2,
        message: "--backend-port: src/test/fixtures/envoy.yaml has no cluster that leaves the machine, so the project gets no backend",
        hint: "drop --backend-port (the project runs without a backend), or take another of the folder's configs with --envoy-config (src/example/envoy/envoy.yaml)",
      }),
    );
  });

  it("says a config written for Envoy's v2 API (config: on a filter) is one, not that it loads no module", () => {
    const v2 = [
      "static_resources:",
      "  listeners:",
      "  - name: main",
      "    address: { socket_address: { address: 0.0.0.0, port_value: 8080 } }",
      "    filter_chains:",
      "    - filters:",
      "      - name: envoy.http_connection_manager",
      "        config:",
      "          stat_prefix: ingress_http",
      "          http_filters:",
      "          - name: envoy.filters.http.wasm",
      "            config: { config: { vm_config: { code: { local: { filename: /etc/p.wasm } } } } }",
      "          - name: envoy.router",
      "            config: {}",
    ].join("\n");
    const take = () => takeOverEnvoyConfig(v2, "envoy/envoy.yaml", { modules: (f) => planModulePaths(f, "envoy.yaml", "x", []) });
    expect(take).toThrow(
      expect.objectContaining({
        exitCode: 1,
        message:
          "envoy/envoy.yaml is written for Envoy's v2 API (filter envoy.http_connection_manager has config:, not typed_config:), which Envoy 1.18 and later do not read",
      }),
    );
  });

  it("takes a config that loads two modules (the SDK's shared_queue) when main packages in folders named as their paths end build them", () => {
    const two = EXAMPLE.replace("./examples/http_headers/main.wasm", "./examples/shared_queue/sender/main.wasm").concat(
      "bootstrap_extensions:\n  - name: envoy.bootstrap.wasm\n    typed_config:\n      '@type': type.googleapis.com/envoy.extensions.wasm.v3.WasmService\n" +
        "      singleton: true\n      config:\n        vm_config:\n          vm_id: receiver\n          runtime: envoy.wasm.runtime.v8\n" +
        "          code: { local: { filename: ./examples/shared_queue/receiver/main.wasm } }\n",
    );
    const taken = takeOverEnvoyConfig(two, "envoy.yaml", { modules: (f) => planModulePaths(f, "envoy.yaml", "sq", ["receiver", "sender", "internal/util"]) });
    const b = parseBootstrap(taken.text, "f", "envoy.yaml");
    expect(b.wasmFilters.map((f) => f.filename)).toEqual(["build/sender.wasm", "build/receiver.wasm"]);
    expect(taken.pluginFolders).toEqual(["sender", "receiver"]);
    expect(taken.changes.slice(0, 2)).toEqual([
      "envoy.yaml: the module path ./examples/shared_queue/sender/main.wasm is now build/sender.wasm (built from sender/), where `envoywasm build` writes it",
      "envoy.yaml: the module path ./examples/shared_queue/receiver/main.wasm is now build/receiver.wasm (built from receiver/), where `envoywasm build` writes it",
    ]);
    // The listener of the HTTP filter, not the service's (none), is the one --listener-port moves.
    expect(takeOverEnvoyConfig(two, "e", { modules: (f) => planModulePaths(f, "e", "sq", ["receiver", "sender"]), listenerPort: 9100 }).listenerPort).toBe(
      9100,
    );

    // No main package for a module, or two modules from one folder: refused, with the way that runs them.
    const refused = (files: string[], mains: string[]) => {
      try {
        planModulePaths(files, "envoy.yaml", "sq", mains);
      } catch (error) {
        expect(error).toBeInstanceOf(UserError);
        return error as UserError;
      }
      throw new Error("not refused");
    };
    const none = refused(["./a/sender/main.wasm", "./a/receiver/main.wasm"], ["", "receiver"]);
    expect(none.message).toBe(
      "envoy.yaml loads 2 different modules (./a/sender/main.wasm, ./a/receiver/main.wasm); init --from adopts them only from main packages in folders named as their paths end, or as their files are named (./a/sender/main.wasm: none)",
    );
    // Modules named as their main packages' folders (./sender.wasm from cmd/sender, as a Makefile builds them): taken.
    expect(planModulePaths(["./sender.wasm", "./receiver.wasm"], "envoy.yaml", "sq", ["cmd/receiver", "cmd/sender"])).toEqual({
      paths: new Map([
        ["./sender.wasm", "build/sender.wasm"],
        ["./receiver.wasm", "build/receiver.wasm"],
      ]),
      folders: ["cmd/sender", "cmd/receiver"],
    });
    // Two main packages of that name: which one builds it is not known.
    expect(refused(["./sender.wasm", "./receiver.wasm"], ["cmd/sender", "tools/sender", "cmd/receiver"]).message).toContain("(./sender.wasm: none)");
    expect(none.hint).toContain("a folder of its own with its own go.mod");
    expect(none.hint).toContain("docs/configuration.md#several-plugins");
    expect(readFileSync(new URL("../../docs/configuration.md", import.meta.url), "utf8")).toMatch(/^## Several plugins$/m);
    expect(refused(["./x/p/main.wasm", "./y/p/main.wasm"], ["p"]).message).toContain("two of them would be built from p/ or as build/p.wasm");
    // One module keeps the project's name, whatever the folders.
    expect([...planModulePaths(["./examples/http_headers/main.wasm"], "e", "hh", ["", "tools"]).paths.values()]).toEqual(["build/hh.wasm"]);
  });
});

describe("which plugin folder builds which module", () => {
  const project = (plugins: string[]): Project => ({
    root: "/p",
    file: "/p/envoywasm.yaml",
    legacy: [],
    config: { name: "p", toolchain: "go", runtime: "native", plugins, envoy: { config: "envoy.yaml", logLevel: "info" } },
  });
  const twoFilters = (a: string, b: string) =>
    parseBootstrap(
      EXAMPLE.replace('"./examples/http_headers/main.wasm"', a).replace(
        "                  - name: envoy.filters.http.router",
        `                  - name: second\n                    typed_config:\n                      "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm\n                      config: { vm_config: { code: { local: { filename: ${b} } } } }\n                  - name: envoy.filters.http.router`,
      ),
      "f",
      "envoy.yaml",
    );

  it("one folder, one module: that one, whatever its name", () => {
    const layout = resolvePlugins(project(["plugin"]), parseBootstrap(EXAMPLE, "f", "envoy.yaml"));
    expect(layout.plugins[0]).toMatchObject({ dir: "plugin", wasmRelative: "examples/http_headers/main.wasm", wasmAbs: "/p/examples/http_headers/main.wasm" });
  });

  it("one module in two filters is one plugin", () => {
    const layout = resolvePlugins(project(["plugin"]), twoFilters("build/a.wasm", "build/a.wasm"));
    expect(layout.plugins[0]!.filters).toHaveLength(2);
  });

  it("several folders: folder X builds …/X.wasm", () => {
    const layout = resolvePlugins(project(["auth", "headers"]), twoFilters("build/headers.wasm", "build/auth.wasm"));
    expect(layout.plugins.map((p) => [p.dir, p.wasmRelative])).toEqual([
      ["auth", "build/auth.wasm"],
      ["headers", "build/headers.wasm"],
    ]);
  });

  it("names the module a folder lacks, and a module outside the project", () => {
    expect(() => resolvePlugins(project(["auth", "other"]), twoFilters("build/headers.wasm", "build/auth.wasm"))).toThrow(
      "envoy.yaml loads no module for plugin folder other (it loads build/headers.wasm, build/auth.wasm)",
    );
    expect(() =>
      resolvePlugins(project(["plugin"]), parseBootstrap(EXAMPLE.replace('"./examples/http_headers/main.wasm"', "/etc/p.wasm"), "f", "envoy.yaml")),
    ).toThrow("envoy.yaml loads /etc/p.wasm, which is outside the project");
  });
});

describe("the requests up suggests (tryRequests)", () => {
  const project = (root: string, tries?: NonNullable<Project["config"]["try"]>): Project => ({
    root,
    file: path.join(root, "envoywasm.yaml"),
    legacy: [],
    config: { name: "p", toolchain: "go", runtime: "native", plugins: ["plugin"], try: tries, envoy: { config: "envoy.yaml", logLevel: "info" } },
  });
  const withCases = async (files: Record<string, string>): Promise<string> => {
    const root = await mkdtemp(path.join(os.tmpdir(), "envoywasm-try-"));
    await mkdir(path.join(root, "e2e"));
    for (const [name, text] of Object.entries(files)) await writeFile(path.join(root, "e2e", name), text);
    return root;
  };
  const keyed = parseBootstrap(EXAMPLE.replace('{"header": "x-wasm-header"}', '{"header": "x-api-key", "value": "it\'s me"}'), "f", "envoy.yaml");

  it("are the first three e2e cases' requests, in the order test runs them, on each case's listener, {config.<key>} resolved", async () => {
    const root = await withCases({
      "b.yaml": "cases:\n  - name: later\n    request: { path: /later }\n",
      "a.yaml": [
        "cases:",
        "  - name: with the key",
        "    request: { method: POST, path: /hello, headers: { '{config.header}': '{config.value}' }, body: hi }",
        "    expect: { status: 200 }",
        "  - name: denied",
        "    request: { path: /x }",
        "    expect: { status: 403 }",
        "  - name: static",
        "    request: { path: /s, listener: staticreply }",
      ].join("\n"),
    });
    try {
      const { requests, warnings } = await tryRequests(project(root), keyed);
      expect(warnings).toEqual([]);
      expect(requests.map((r) => [r.url, r.status])).toEqual([
        ["http://127.0.0.1:18000/hello", 200],
        ["http://127.0.0.1:18000/x", 403],
        ["http://127.0.0.1:8099/s", undefined],
      ]);
      expect(requests[0]!.curl).toBe("curl -i -X POST -H 'x-api-key: it'\\''s me' --data-raw hi http://127.0.0.1:18000/hello");
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("are GET / on the plugin's listener without cases, and with a bad case file (which is told)", async () => {
    const none = await tryRequests(project("/nonexistent"), keyed);
    expect(none).toEqual({ requests: [expect.objectContaining({ url: "http://127.0.0.1:18000/", curl: "curl -i http://127.0.0.1:18000/" })], warnings: [] });
    const root = await withCases({ "bad.yaml": "cases:\n  - name: x\n    request: { path: /, listener: nope }\n" });
    try {
      const bad = await tryRequests(project(root), keyed);
      expect(bad.requests.map((r) => r.url)).toEqual(["http://127.0.0.1:18000/"]);
      expect(bad.warnings).toEqual([expect.stringMatching(/^e2e\/bad\.yaml:3:\d+: .*no listener "nope".* \(so up suggests GET \/\)$/)]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("are none when the case files hold no case (an adopted plugin that no request may reach)", async () => {
    const root = await withCases({ "starter.yaml": "# no request reaches this plugin\ncases: []\n" });
    try {
      expect(await tryRequests(project(root), keyed)).toEqual({ requests: [], warnings: [] });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("are envoywasm.yaml's try: requests while it has them, with one line on how to move them", async () => {
    const { requests, warnings } = await tryRequests(
      project("/p", [{ path: "/", headers: { "x-key": "{config.secret}" } }]),
      parseBootstrap(EXAMPLE, "f", "envoy.yaml"),
    );
    expect(requests.map((r) => r.curl)).toEqual(["curl -i -H 'x-key: {config.secret}' http://127.0.0.1:18000/"]);
    expect(warnings).toEqual([
      "try: {config.secret} is not in the plugin configuration of listener main in envoy.yaml",
      "envoywasm.yaml: try: is replaced by the e2e cases in e2e/, whose first requests up now suggests: `envoywasm migrate` moves these requests there (docs/e2e.md)",
    ]);
  });
});

describe("an adopted project's starter case (starterCase)", () => {
  const cases = (text: string | undefined) => (parse(text!) as { cases: unknown[] }).cases;

  it("GETs the first route of the plugin's listener, asserting no panic, and suggests the backend's 200 without asserting it", () => {
    const text = starterCase(EXAMPLE, "envoy.yaml", "httpbin");
    expect(cases(text)).toEqual([{ name: "GET / through the plugin to the backend", request: { path: "/" }, expect: { noLogs: ["/panic/"] } }]);
    // An adopted plugin may answer this request itself (a challenge, a denial): the status is a suggestion.
    expect(text).toContain("# The backend answers 200: once you know the plugin lets this request through, add status: 200.");
  });

  it("suggests a direct response's status, and asks for one where it cannot know the upstream's", () => {
    const direct = EXAMPLE.replace("route: { cluster: httpbin }", "direct_response: { status: 204 }").replace('prefix: "/"', 'path: "/ping"');
    const text = starterCase(direct, "envoy.yaml", "httpbin");
    expect(cases(text)).toEqual([{ name: "GET /ping through the plugin to its direct response", request: { path: "/ping" }, expect: { noLogs: ["/panic/"] } }]);
    expect(text).toContain("# Its direct response answers 204: once you know the plugin lets this request through, add status: 204.");
    const unknown = starterCase(EXAMPLE, "envoy.yaml", undefined);
    expect(cases(unknown)).toEqual([{ name: "GET / through the plugin to cluster httpbin", request: { path: "/" }, expect: { noLogs: ["/panic/"] } }]);
    expect(unknown).toContain("# Once you know what comes back here, say it: status: <code>.");
  });

  it("GETs / through a network filter's listener whose tcp_proxy goes to the backend, and writes none where it goes elsewhere", () => {
    const tcp = `static_resources:
  listeners:
    - name: main
      address: { socket_address: { address: 127.0.0.1, port_value: 18000 } }
      filter_chains:
        - filters:
            - name: envoy.filters.network.wasm
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm
                config: { vm_config: { code: { local: { filename: "build/tcp.wasm" } } } }
            - name: envoy.tcp_proxy
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
                stat_prefix: tcp
                cluster: web_service
`;
    const text = starterCase(tcp, "envoy.yaml", "web_service");
    expect(cases(text)).toEqual([
      { name: "GET / through the plugin and the tcp_proxy to the backend", request: { path: "/" }, expect: { noLogs: ["/panic/"] } },
    ]);
    expect(text).toContain("listener\n# main in envoy.yaml runs the plugin on the connection, then a tcp_proxy to the");
    expect(starterCase(tcp, "envoy.yaml", "backend")).toBeUndefined();
  });

  it("suggests no status for a backend cluster that speaks HTTP/2 (gRPC, as the Rust SDK's grpc_auth_random), which the HTTP/1.1 backend cannot answer", () => {
    const grpc = EXAMPLE.replace("      transport_socket:\n", "      http2_protocol_options: {}\n      transport_socket:\n");
    const text = starterCase(grpc, "envoy.yaml", "httpbin");
    expect(cases(text)).toEqual([{ name: "GET / through the plugin to the backend", request: { path: "/" }, expect: { noLogs: ["/panic/"] } }]);
    expect(text).not.toContain("answers 200");
    expect(text).toContain("# Once you know what comes back here, say it: status: <code>.");
  });

  it("sends no request for a plugin that makes no stream context (a request through its filter makes it panic), and says why", () => {
    const text = starterCase(EXAMPLE, "envoy.yaml", "httpbin", false);
    expect(cases(text)).toEqual([]);
    expect(text).toContain("# makes no HTTP or TCP context (it works from its plugin context: ticks, calls), so a");
    // Still none for a config that runs the plugin on no listener.
    expect(starterCase("static_resources: { listeners: [] }\n", "envoy.yaml", undefined, false)).toBeUndefined();
  });
});

describe("the stream contexts a plugin's source makes (streamContexts)", () => {
  it("reads the Go SDK's New*Context methods and Set*Context shortcuts, and the Rust SDK's root context hooks", () => {
    expect(streamContexts(["proxywasm.SetVMContext(&vm{})", "func (*p) NewHttpContext(uint32) types.HttpContext {"])).toEqual({
      http: true,
      tcp: false,
      rootOnly: false,
    });
    expect(streamContexts(["proxywasm.SetTcpContext(func(uint32) types.TcpContext { return &c{} })"])).toEqual({ http: false, tcp: true, rootOnly: false });
    expect(streamContexts(["proxywasm.SetHttpContext(newCtx)"])).toMatchObject({ http: true });
    expect(
      streamContexts(["proxy_wasm::set_root_context(|_| Box::new(R));", "fn create_http_context(&self, _: u32) -> Option<Box<dyn HttpContext>> {"]),
    ).toMatchObject({
      http: true,
      rootOnly: false,
    });
  });

  it("is root-only for a plugin context that makes neither (ticks, calls), never for one whose contexts a wrapper library makes", () => {
    expect(streamContexts(["proxywasm.SetVMContext(&vmContext{})", "func (ctx *pluginContext) OnTick() {}"])).toEqual({
      http: false,
      tcp: false,
      rootOnly: true,
    });
    expect(streamContexts(["proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Ticker) });"])).toMatchObject({ rootOnly: true });
    expect(streamContexts(['wrapper.SetCtx("my-plugin", wrapper.ProcessRequestHeaders(onHeaders))'])).toEqual({ http: false, tcp: false, rootOnly: false });
  });
});
