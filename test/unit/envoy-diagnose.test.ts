import { describe, expect, it } from "vitest";
import { diagnoseEnvoy, envoyErrorLines } from "../../src/envoy/diagnose.js";

const T = "[2026-11-25 22:49:54.943][4611]";

describe("diagnoseEnvoy", () => {
  it("explains a router filter without typed_config", () => {
    const d = diagnoseEnvoy([
      `${T}[info][main] [source/server/server.cc:435] initializing epoch 0 (base id=0, hot restart version=11.104)`,
      `${T}[critical][main] [source/server/server.cc:131] error initializing configuration 'envoy.yaml': Didn't find a registered implementation for 'envoy.filters.http.router' with type URL: ''`,
      `${T}[info][main] [source/server/server.cc:1001] exiting`,
    ]);
    expect(d?.message).toBe(
      'envoy.yaml: filter "envoy.filters.http.router" has no typed_config "@type"; Envoy 1.22 and later look filters up by type',
    );
    expect(d?.hint).toContain("type.googleapis.com/envoy.extensions.filters.http.router.v3.Router");
  });

  it("gives a generic hint for another filter without typed_config", () => {
    const d = diagnoseEnvoy([
      `error initializing configuration 'envoy.yaml': Didn't find a registered implementation for 'envoy.filters.http.cors' with type URL: ''`,
    ]);
    expect(d?.message).toContain('filter "envoy.filters.http.cors"');
    expect(d?.hint).toBe("add the filter's typed_config with its \"@type\"");
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

  it("explains a file the container's user cannot read (Envoy's message spans two lines)", () => {
    const d = diagnoseEnvoy([
      `${T}[critical][main] [source/server/server.cc:449] error \`unable to read file: build/p1.wasm\` initializing config 'goo.gle/debugstr    `,
      "  /project/.envoywasm/run/envoy.yaml'",
      "unable to read file: build/p1.wasm",
    ]);
    expect(d?.message).toBe("Envoy cannot read build/p1.wasm");
    expect(d?.hint).toContain("uid 101");
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
