import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { diagnoseEnvoy, envoyErrorLines } from "../../src/envoy/diagnose.js";

const T = "[2026-11-25 22:49:54.943][4611]";

describe("diagnoseEnvoy", () => {
  it("explains a router filter without typed_config", () => {
    const d = diagnoseEnvoy([
      `${T}[info][main] [source/server/server.cc:435] initializing epoch 0 (base id=0, hot restart version=11.104)`,
      `${T}[critical][main] [source/server/server.cc:131] error initializing configuration 'envoy.yaml': Didn't find a registered implementation for 'envoy.filters.http.router' with type URL: ''`,
      `${T}[info][main] [source/server/server.cc:1001] exiting`,
    ]);
    expect(d?.message).toBe('envoy.yaml: filter "envoy.filters.http.router" has no typed_config "@type"; Envoy 1.22 and later look filters up by type');
    expect(d?.hint).toContain("type.googleapis.com/envoy.extensions.filters.http.router.v3.Router");
  });

  it("gives the router's typed_config for its pre-1.14 name, envoy.router", () => {
    const d = diagnoseEnvoy([`error initializing configuration 'envoy.yaml': Didn't find a registered implementation for 'envoy.router' with type URL: ''`]);
    expect(d?.message).toContain('filter "envoy.router"');
    expect(d?.hint).toContain("type.googleapis.com/envoy.extensions.filters.http.router.v3.Router");
  });

  it("gives a generic hint for another filter without typed_config", () => {
    const d = diagnoseEnvoy([
      `error initializing configuration 'envoy.yaml': Didn't find a registered implementation for 'envoy.filters.http.cors' with type URL: ''`,
    ]);
    expect(d?.message).toContain('filter "envoy.filters.http.cors"');
    expect(d?.hint).toBe('add the filter\'s typed_config with its "@type"');
  });

  it("explains a missing Wasm runtime rather than a missing typed_config", () => {
    const d = diagnoseEnvoy([
      `${T}[critical][main] [source/server/server.cc:131] error initializing configuration 'envoy.yaml': Didn't find a registered implementation for 'envoy.wasm.runtime.v8' with type URL: ''`,
    ]);
    expect(d?.message).toBe("this Envoy was built without the envoy.wasm.runtime.v8 Wasm runtime");
  });

  it("finds the missing import in a cascade of generic failures", () => {
    const d = diagnoseEnvoy([
      `${T}[info][main] [source/server/server.cc:435] initializing epoch 0`,
      `${T}[critical][wasm] [source/extensions/common/wasm/wasm_vm.cc:38] Failed to load Wasm module due to a missing import: wasi_snapshot_preview1.sched_yield`,
      `${T}[critical][wasm] [source/extensions/common/wasm/wasm_vm.cc:38] Failed to load Wasm code`,
      `${T}[error][wasm] [source/extensions/common/wasm/wasm.cc:148] Wasm VM failed to initialize Wasm code`,
      `${T}[critical][main] [source/server/server.cc:131] error initializing configuration 'envoy.yaml': Unable to create Wasm HTTP filter my-plugin`,
    ]);
    expect(d?.message).toBe("the plugin imports wasi_snapshot_preview1.sched_yield, which this Envoy's Wasm host does not provide");
    expect(d?.hint).toContain("Envoy 1.33 or newer");
  });

  it("blames the SDK for a missing env import", () => {
    const d = diagnoseEnvoy([`Failed to load Wasm module due to a missing import: env.proxy_get_log_level`]);
    expect(d?.message).toContain("env.proxy_get_log_level");
    expect(d?.hint).toContain("the SDK is newer than this Envoy");
  });

  it("explains a .wasm path Envoy cannot read", () => {
    const d = diagnoseEnvoy([
      `${T}[critical][main] [source/server/server.cc:131] error initializing configuration 'envoy.yaml': Invalid path: plugin/nope.wasm`,
    ]);
    expect(d).toEqual({
      message: "Envoy cannot read plugin/nope.wasm",
      hint: "check the module path in envoy.yaml (vm_config.code.local.filename, relative to the project root); `envoywasm build` writes it there",
    });
  });

  it("names a file Envoy cannot read (its message spans two lines) without a backtick", () => {
    const d = diagnoseEnvoy([
      `${T}[critical][main] [source/server/server.cc:449] error \`unable to read file: build/p1.wasm\` initializing config 'goo.gle/debugstr    `,
      "  /project/.envoywasm/run/envoy.yaml'",
      "unable to read file: build/p1.wasm",
    ]);
    expect(d?.message).toBe("Envoy cannot read build/p1.wasm");
    const invalid = diagnoseEnvoy([`${T}[critical][main] [source/server/server.cc:449] error \`Invalid path: /project/x.yaml\` initializing config`]);
    expect(invalid?.message).toBe("Envoy cannot read /project/x.yaml");
  });

  describe("a file Envoy cannot read, explained from the file itself", () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "diagnose-"));
    chmodSync(root, 0o755);
    afterAll(() => rmSync(root, { recursive: true, force: true }));
    writeFileSync(path.join(root, "envoy.yaml"), "# motd.txt in a comment does not count\nbody:\n  filename: motd.txt\n");
    const container = { mount: "/project", user: "1000:1000", groups: [] };
    const missing = [`${T}[critical][main] error \`file motd.txt does not exist\` initializing config`];

    it("a missing file: the line of envoy.yaml that names it", () => {
      const d = diagnoseEnvoy(missing, { root, envoyConfig: path.join(root, "envoy.yaml") });
      expect(d?.message).toBe("Envoy cannot read motd.txt (envoy.yaml:3): there is no such file");
    });

    it("in a container: a mode that shuts its user out, and a folder it cannot enter", () => {
      writeFileSync(path.join(root, "motd.txt"), "hi", { mode: 0o600 });
      chmodSync(path.join(root, "motd.txt"), 0o600);
      const d = diagnoseEnvoy([`unable to read file: /project/motd.txt`], {
        root,
        envoyConfig: path.join(root, "envoy.yaml"),
        container: { ...container, user: "4242:4242" },
      });
      expect(d?.message).toBe(
        `Envoy in its container (user 4242:4242, no capabilities) cannot read motd.txt (envoy.yaml:3): it is mode 0600 and belongs to uid ${statSync(root).uid}`,
      );
      expect(d?.hint).toContain("`chmod a+r motd.txt`");
      mkdirSync(path.join(root, "conf"), { mode: 0o700 });
      chmodSync(path.join(root, "conf"), 0o700);
      writeFileSync(path.join(root, "conf", "a.pem"), "x", { mode: 0o644 });
      const folder = diagnoseEnvoy([`unable to read file: /project/conf/a.pem`], { root, container: { ...container, user: "4242:4242" } });
      expect(folder?.message).toBe(
        `Envoy in its container (user 4242:4242, no capabilities) cannot read conf/a.pem: it cannot enter conf/ (mode 0700, owner uid ${statSync(root).uid})`,
      );
      expect(folder?.hint).toBe("let it in: `chmod a+x conf`");
    });

    it("in a container: a path outside the project is not mounted", () => {
      const d = diagnoseEnvoy([`unable to read file: /etc/envoy/cert.pem`], { root, container });
      expect(d?.message).toBe("Envoy in its container cannot see /etc/envoy/cert.pem: only the project folder is mounted there (at /project)");
    });
  });

  it("shows the real reason when it is only a warning: a runtime this Envoy lacks", () => {
    const d = diagnoseEnvoy([
      `${T}[warning][wasm] [source/extensions/common/wasm/wasm.cc:120] Failed to create Wasm VM using envoy.wasm.runtime.v9 runtime. Envoy was compiled without support for it`,
      `${T}[critical][main] [source/server/server.cc:131] error initializing configuration 'envoy.yaml': Unable to create Wasm HTTP filter p1`,
    ]);
    expect(d).toEqual({
      message: "this Envoy was built without the envoy.wasm.runtime.v9 Wasm runtime",
      hint: "remove vm_config.runtime from envoy.yaml (Envoy then uses the runtime it has), or set it to envoy.wasm.runtime.v8, which official builds carry",
    });
  });

  it("explains a port that is already in use", () => {
    const d = diagnoseEnvoy([
      `${T}[critical][main] [source/server/server.cc:131] error initializing configuration 'envoy.yaml': cannot bind '127.0.0.1:8085': Address already in use`,
    ]);
    expect(d?.message).toBe("Envoy cannot listen on 127.0.0.1:8085: Address already in use");
    expect(d?.hint).toContain("pick another port");
  });

  it("quotes the plugin's last log line when it refused to start", () => {
    const d = diagnoseEnvoy([
      `${T}[critical][wasm] [source/extensions/common/wasm/context.cc:1151] wasm log my-plugin my-plugin my-plugin: invalid plugin configuration "{": unexpected end of JSON input`,
      `${T}[critical][wasm] [source/extensions/common/wasm/wasm.cc:102] Failed to configure base Wasm plugin`,
    ]);
    expect(d?.message).toContain("rejected its start-up");
    expect(d?.hint).toBe('its last log line: my-plugin my-plugin my-plugin: invalid plugin configuration "{": unexpected end of JSON input');
  });

  it("returns undefined for lines it does not know", () => {
    expect(diagnoseEnvoy([`${T}[info][main] [source/server/server.cc:978] starting main dispatch loop`])).toBeUndefined();
    expect(diagnoseEnvoy(["something else entirely"])).toBeUndefined();
    expect(diagnoseEnvoy([])).toBeUndefined();
  });
});

describe("envoyErrorLines", () => {
  it("keeps error, critical and non-log lines, dropping info chatter and blanks", () => {
    const lines = [
      `${T}[info][main] [source/server/server.cc:435] initializing epoch 0`,
      `${T}[critical][main] [x.cc:1] error initializing configuration 'envoy.yaml': boom`,
      `${T}[error][wasm] [y.cc:2] Wasm VM failed`,
      `${T}[warning][misc] [z.cc:3] deprecated`,
      "",
      "Segmentation fault (core dumped)",
    ];
    expect(envoyErrorLines(lines)).toEqual([lines[1], lines[2], lines[5]]);
  });
});

describe("config errors on the user's envoy.yaml line, never the derived file", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "envoywasm-diag-lines-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const envoyConfig = path.join(root, "envoy.yaml");
  writeFileSync(
    envoyConfig,
    [
      "static_resources:",
      "  listeners:",
      "    - name: listener",
      "      address: { socket_address: { address: 127.0.0.1, port_value: 8085 } }",
      "      filter_chains:",
      "        - filters:",
      "            - name: envoy.filters.network.http_connection_manager",
      "              typed_config:",
      '                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      "                stat_prefx: ingress_http",
      "                route_config:",
      "                  virtual_hosts:",
      "                    - name: all",
      '                      domains: ["*"]',
      "                      routes:",
      '                        - match: { prefix: "/" }',
      "                          route: { cluster: backnd }",
      "  clusters:",
      "    - name: backend",
      "      type: STATIC",
      "      connect_timeout: -1s",
      "",
    ].join("\n"),
  );
  const derived = `${root}/.envoywasm/run/envoy.yaml`;

  it("an unknown field (Envoy 1.40's words): envoy.yaml's line of it, and the message type", () => {
    const d = diagnoseEnvoy(
      [
        `${T}[critical][main] [source/server/server.cc:449] error \`Protobuf message (type envoy.config.bootstrap.v3.Bootstrap reason INVALID_ARGUMENT: invalid JSON in  envoy.config.bootstrap.v3.Bootstrap @ static_resources.listeners[0].filter_chains[0].filters[0].typed_config.<any>: message envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager, near 1:1663  (offset 1662): no such field: 'stat_prefx') has unknown fields\` initializing config 'goo.gle/debugproto  `,
        `  ${derived}'`,
      ],
      { root, envoyConfig },
    );
    expect(d?.message).toBe('envoy.yaml:10: unknown field "stat_prefx" of HttpConnectionManager');
    expect(d?.message).not.toContain(".envoywasm");
    expect(d?.hint).toContain("envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager");
  });

  it("Envoy's protobuf text doubles spaces at random: the same explanation", () => {
    const d = diagnoseEnvoy(
      [
        `${T}[critical][main] [source/server/server.cc:449] error \`Protobuf message (type envoy.config.bootstrap.v3.Bootstrap reason INVALID_ARGUMENT: invalid JSON  in  envoy.config.bootstrap.v3.Bootstrap @ static_resources.listeners[0].filter_chains[0].filters[0].typed_config.<any>:  message   envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager, near  1:1056 (offset 1055): no  such  field:  'stat_prefx') has unknown fields\``,
      ],
      { root, envoyConfig },
    );
    expect(d?.message).toBe('envoy.yaml:10: unknown field "stat_prefx" of HttpConnectionManager');
  });

  it("a route to an unknown cluster: the route's line, and the cluster it probably meant", () => {
    const d = diagnoseEnvoy(
      [
        `${T}[critical][main] [source/server/server.cc:449] error \`route: unknown cluster 'backnd'\` initializing config 'goo.gle/debugonly  `,
        `  ${derived}'`,
      ],
      { root, envoyConfig },
    );
    expect(d?.message).toBe('envoy.yaml:17: a route sends requests to cluster "backnd", which is not defined');
    expect(d?.hint).toBe('did you mean "backend"? the clusters are backend');
  });

  it("a value out of range (Envoy 1.40's validation chain from the Bootstrap): the field's line", () => {
    const d = diagnoseEnvoy(
      [
        `${T}[critical][main] [source/server/config_validation/server.cc:76] error initializing configuration '${derived}': goo.gle/debugonly  `,
        ": Proto constraint validation failed (BootstrapValidationError.StaticResources: embedded message failed validation | caused by StaticResourcesValidationError.Listeners[0]: embedded message failed validation | caused by ListenerValidationError.Address: embedded message failed validation | caused by AddressValidationError.SocketAddress: embedded message failed validation | caused by SocketAddressValidationError.PortValue: value must be less than or equal to 65535)",
      ],
      { root, envoyConfig },
    );
    expect(d?.message).toBe("envoy.yaml:4: port_value: value must be less than or equal to 65535");
    expect(d?.hint).toBe("fix static_resources.listeners[0].address.socket_address.port_value in envoy.yaml");
  });

  it("a constraint inside a nested message (an HttpConnectionManager's route_config): found in envoy.yaml all the same", () => {
    const d = diagnoseEnvoy(
      [
        `${T}[critical][main] [source/server/config_validation/server.cc:76] error initializing configuration '${derived}': goo.gle/debugproto    `,
        ": Proto constraint validation failed (HttpConnectionManagerValidationError.RouteConfig: embedded message failed validation | caused by RouteConfigurationValidationError.VirtualHosts[0]: embedded message failed validation | caused by VirtualHostValidationError.Name: value length must be at least 1 characters)",
      ],
      { root, envoyConfig },
    );
    expect(d?.message).toBe("envoy.yaml:13: name: value length must be at least 1 characters");
  });

  it("an @type Envoy does not know, and a value a field does not take: their lines", () => {
    const files = { root, envoyConfig };
    const type = diagnoseEnvoy(
      [
        `${T}[critical][main] [source/server/config_validation/server.cc:76] error initializing configuration '${derived}': Unable to parse JSON as proto (INVALID_ARGUMENT: could not find @type 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager'): {"static_resources":{}}`,
      ],
      files,
    );
    expect(type?.message).toBe(
      'envoy.yaml:9: unknown @type "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"',
    );
    const value = diagnoseEnvoy(
      [
        `${T}[critical][main] [source/server/config_validation/server.cc:76] error initializing configuration '${derived}': Protobuf message (type envoy.config.bootstrap.v3.Bootstrap reason INVALID_ARGUMENT: unknown enum value: 'STATIC') has unknown fields`,
      ],
      files,
    );
    expect(value?.message).toBe('envoy.yaml:20: "STATIC" is not one of the field\'s values');
  });

  it("a negative duration: the line that has it", () => {
    const d = diagnoseEnvoy(
      [
        `${T}[critical][main] [source/server/config_validation/server.cc:76] error initializing configuration '${derived}': Invalid duration: Expected positive duration: goo.gle/debugstr   `,
      ],
      { root, envoyConfig },
    );
    expect(d?.message).toBe("envoy.yaml:21: a duration is not valid (Expected positive duration)");
    expect(d?.message).not.toContain(".envoywasm");
  });
});

describe("a Go panic while the plugin starts, by its real cause (Envoy 1.40's output, fixtures)", () => {
  const fixture = (name: string) => readFileSync(path.join(import.meta.dirname, "..", "fixtures", name), "utf8").split("\n");

  it("a panic in OnPluginStart: its message and the plugin's file:line, not 'returned false'", () => {
    const d = diagnoseEnvoy(fixture("envoy-go-panic-at-start.log"), { root: "/tmp/pan/pn" });
    expect(d?.message).toBe(
      "the plugin panicked while starting (in proxy_on_configure): assignment to entry in nil map at main.(*pluginContext).OnPluginStart (plugin/main.go:83)",
    );
    expect(d?.message).not.toContain("returned false");
  });

  it("contexts registered in main(): no VM context, said as such, with the fix", () => {
    const d = diagnoseEnvoy(fixture("envoy-go-unregistered.log"), { root: "/tmp/pan/pn" });
    expect(d?.message).toContain("the plugin registered no VM context: it panicked in proxy_on_context_create");
    expect(d?.hint).toBe("call proxywasm.SetVMContext in func init(): a c-shared Go module never runs main()");
  });
});

describe("the plugin's last words when it refused to start, whole", () => {
  it("a message of several lines is quoted with all its lines, not cut at the first newline", () => {
    const d = diagnoseEnvoy([
      `${T}[critical][wasm] [source/extensions/common/wasm/context.cc:1151] wasm log p p p: invalid configuration:`,
      "  header: missing",
      "  value: missing",
      `${T}[critical][wasm] [source/extensions/common/wasm/wasm.cc:102] Failed to configure base Wasm plugin`,
    ]);
    expect(d?.hint).toBe("its last log line: p p p: invalid configuration:\n  header: missing\n  value: missing");
  });
});
