import { describe, expect, it } from "vitest";
import { checkModule, inspectModule, WasmCompileError, type ModuleFacts } from "../../src/wasm/check.js";
import { ENV_ABI_SPECIFIC, hostFunctionsFor } from "../../src/wasm/host-abi.js";
import { buildModule, uleb128, type WasmImport } from "./wasm-builder.js";

/** The exports a proxy-wasm HTTP filter built with Go -buildmode=c-shared has (those check.ts looks at). */
const GOOD_EXPORTS = [
  "memory",
  "_initialize",
  "proxy_abi_version_0_2_0",
  "proxy_on_memory_allocate",
  "proxy_on_context_create",
  "proxy_on_vm_start",
  "proxy_on_configure",
  "proxy_on_request_headers",
  "proxy_on_response_headers",
  "proxy_on_done",
  "proxy_on_delete",
];
const GOOD_IMPORTS: WasmImport[] = [
  { module: "env", name: "proxy_log" },
  { module: "wasi_snapshot_preview1", name: "fd_write" },
];

/** The parts of the WebAssembly JS API that src/types/webassembly.d.ts leaves out. */
const wasmApi = WebAssembly as unknown as {
  validate(bytes: Uint8Array): boolean;
  instantiate(bytes: Uint8Array): Promise<{ instance: { exports: Record<string, unknown> } }>;
};

/** Build a real module, then inspect it the way `envoywasm build` does. */
async function facts(spec: { exports?: string[]; imports?: WasmImport[] }): Promise<ModuleFacts> {
  return inspectModule(buildModule({ exports: spec.exports ?? GOOD_EXPORTS, imports: spec.imports ?? GOOD_IMPORTS }));
}

function replaceExport(from: string, to: string | undefined): string[] {
  return GOOD_EXPORTS.flatMap((e) => (e === from ? (to === undefined ? [] : [to]) : [e]));
}

describe("wasm-builder", () => {
  it("encodes LEB128", () => {
    expect(uleb128(0)).toEqual([0]);
    expect(uleb128(127)).toEqual([0x7f]);
    expect(uleb128(128)).toEqual([0x80, 0x01]);
    expect(uleb128(624485)).toEqual([0xe5, 0x8e, 0x26]);
  });

  it("builds modules that WebAssembly accepts, with the imports and exports asked for", async () => {
    const bytes = buildModule({
      imports: [
        { module: "env", name: "a" },
        { module: "env", name: "mem", kind: "memory" },
        { module: "env", name: "tbl", kind: "table" },
        { module: "env", name: "g", kind: "global" },
        { module: "other", name: "b" },
      ],
      exports: ["memory", "f", "g2"],
    });
    expect(wasmApi.validate(bytes)).toBe(true);
    const module = await WebAssembly.compile(bytes);
    expect(WebAssembly.Module.imports(module)).toEqual([
      { module: "env", name: "a", kind: "function" },
      { module: "env", name: "mem", kind: "memory" },
      { module: "env", name: "tbl", kind: "table" },
      { module: "env", name: "g", kind: "global" },
      { module: "other", name: "b", kind: "function" },
    ]);
    expect(WebAssembly.Module.exports(module)).toEqual([
      { name: "memory", kind: "memory" },
      { name: "f", kind: "function" },
      { name: "g2", kind: "function" },
    ]);
    // and a module without imports can be instantiated and called
    const { instance } = await wasmApi.instantiate(buildModule({ exports: ["memory", "run"] }));
    expect((instance.exports.run as () => unknown)()).toBeUndefined();
    expect((instance.exports.memory as { buffer: ArrayBuffer }).buffer.byteLength).toBe(65536);
  });
});

describe("inspectModule", () => {
  it("lists exports and imports and finds the ABI version", async () => {
    const f = await facts({});
    expect(f.exports).toEqual(GOOD_EXPORTS);
    expect(f.imports).toEqual([
      { module: "env", name: "proxy_log", kind: "function" },
      { module: "wasi_snapshot_preview1", name: "fd_write", kind: "function" },
    ]);
    expect(f.abiVersion).toBe("0_2_0");
  });

  it("has no ABI version when there is no proxy_abi_version_* export", async () => {
    expect((await facts({ exports: ["memory", "_initialize"] })).abiVersion).toBeUndefined();
  });

  it("throws WasmCompileError for bytes that are not a module", async () => {
    await expect(inspectModule(new TextEncoder().encode("#!/bin/sh\necho not wasm\n"))).rejects.toBeInstanceOf(WasmCompileError);
    await expect(inspectModule(new Uint8Array())).rejects.toBeInstanceOf(WasmCompileError);
    const truncated = buildModule({ exports: GOOD_EXPORTS }).slice(0, -3);
    const error = await inspectModule(truncated).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WasmCompileError);
    expect((error as Error).message).not.toBe("");
  });
});

describe("checkModule", () => {
  it("passes a complete Go module", async () => {
    const result = checkModule(await facts({}), { toolchain: "go" });
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
    expect(result.checkedAgainst).toBe("1.39 (the newest known)");
  });

  it("passes a complete module for a given Envoy version, and says which", async () => {
    const result = checkModule(await facts({}), { toolchain: "go", envoyVersion: "1.33.2" });
    expect(result.errors).toEqual([]);
    expect(result.checkedAgainst).toBe("1.33.2");
  });

  describe("entry points", () => {
    it("refuses a WASI command (_start, no _initialize) built with go", async () => {
      const { errors } = checkModule(await facts({ exports: replaceExport("_initialize", "_start") }), { toolchain: "go" });
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain("_start");
      expect(errors[0]).toContain("-buildmode=c-shared");
    });

    it("accepts _start from tinygo", async () => {
      const { errors } = checkModule(await facts({ exports: replaceExport("_initialize", "_start") }), { toolchain: "tinygo" });
      expect(errors).toEqual([]);
    });

    it("refuses a go module with neither _initialize nor _start", async () => {
      const f = await facts({ exports: replaceExport("_initialize", undefined) });
      expect(checkModule(f, { toolchain: "go" }).errors).toEqual(["it does not export _initialize, which a Go reactor module (-buildmode=c-shared) must"]);
      expect(checkModule(f, { toolchain: "tinygo" }).errors).toEqual(["it exports neither _initialize nor _start, so Envoy cannot initialise the Go runtime"]);
    });

    it("accepts a rust cdylib with _initialize (the SDK's main!) or _start (its older examples), and says how to register otherwise", async () => {
      expect(checkModule(await facts({}), { toolchain: "rust" }).errors).toEqual([]);
      expect(checkModule(await facts({ exports: replaceExport("_initialize", "_start") }), { toolchain: "rust" }).errors).toEqual([]);
      // A cdylib for wasm32-wasip1 exports no entry point of its own (checked with cargo 1.95).
      expect(checkModule(await facts({ exports: replaceExport("_initialize", undefined) }), { toolchain: "rust" }).errors).toEqual([
        "it exports neither _initialize nor _start, so no root context is registered: register it in proxy_wasm::main! { … }",
      ]);
      const noAbi = await facts({ exports: replaceExport("proxy_abi_version_0_2_0", undefined) });
      expect(checkModule(noAbi, { toolchain: "rust" }).errors[0]).toBe(
        "it is not a proxy-wasm plugin: no proxy_abi_version_* export. Depend on the proxy-wasm crate and register the root context in proxy_wasm::main! { … }",
      );
    });

    it("refuses a module without a proxy_abi_version_* export", async () => {
      const { errors } = checkModule(await facts({ exports: replaceExport("proxy_abi_version_0_2_0", undefined) }), {
        toolchain: "go",
      });
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain("proxy_abi_version");
      expect(errors[0]).toContain("not a proxy-wasm plugin");
    });

    it("refuses an ABI version Envoy does not know", async () => {
      const { errors } = checkModule(await facts({ exports: replaceExport("proxy_abi_version_0_2_0", "proxy_abi_version_0_3_0") }), {
        toolchain: "go",
      });
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain("proxy_abi_version_0_3_0");
      expect(errors[0]).toContain("0_1_0, 0_2_0, 0_2_1");
      expect(errors[0]).not.toContain("Higress");
    });

    it("names Higress's fork when a module exports its ABI (0_2_100), which upstream Envoy refuses", async () => {
      const { errors } = checkModule(await facts({ exports: replaceExport("proxy_abi_version_0_2_0", "proxy_abi_version_0_2_100") }), {
        toolchain: "go",
      });
      expect(errors).toEqual([
        "it exports proxy_abi_version_0_2_100, an ABI version Envoy does not know (it knows 0_1_0, 0_2_0, 0_2_1): that is Higress's, whose fork of the Go SDK (github.com/higress-group/proxy-wasm-go-sdk) runs only in Higress; for Envoy, build against github.com/proxy-wasm/proxy-wasm-go-sdk",
      ]);
    });

    it("refuses a module with neither proxy_on_memory_allocate nor malloc", async () => {
      const { errors } = checkModule(await facts({ exports: replaceExport("proxy_on_memory_allocate", undefined) }), {
        toolchain: "go",
      });
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain("proxy_on_memory_allocate");
      expect(errors[0]).toContain("malloc");
    });

    it("accepts malloc instead of proxy_on_memory_allocate", async () => {
      const { errors } = checkModule(await facts({ exports: replaceExport("proxy_on_memory_allocate", "malloc") }), {
        toolchain: "tinygo",
      });
      expect(errors).toEqual([]);
    });

    it("names each missing HTTP filter callback", async () => {
      const exports = GOOD_EXPORTS.filter((e) => e !== "proxy_on_done" && e !== "memory");
      const { errors } = checkModule(await facts({ exports }), { toolchain: "go" });
      expect(errors).toEqual([
        "missing export memory, which Envoy calls on an HTTP filter plugin",
        "missing export proxy_on_done, which Envoy calls on an HTTP filter plugin",
      ]);
    });
  });

  describe("imports against Envoy's host functions", () => {
    const withImport = (imp: WasmImport) => facts({ imports: [...GOOD_IMPORTS, imp] });

    it("allows wasi sched_yield from Envoy 1.33 on, but not before", async () => {
      const f = await withImport({ module: "wasi_snapshot_preview1", name: "sched_yield" });
      expect(checkModule(f, { toolchain: "go", envoyVersion: "1.33.0" }).errors).toEqual([]);
      expect(checkModule(f, { toolchain: "go", envoyVersion: "1.40.0" }).errors).toEqual([]);
      const { errors } = checkModule(f, { toolchain: "go", envoyVersion: "1.32.0" });
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain("wasi_snapshot_preview1.sched_yield");
      expect(errors[0]).toContain("Envoy 1.32.0");
    });

    it("allows the WASI calls added in Envoy 1.39 only from 1.39 on", async () => {
      // path_open is in every set (check host-abi.ts); fd_filestat_get came with cpp-host PR #533.
      expect(hostFunctionsFor("1.38.3")?.wasi).toContain("path_open");
      expect(hostFunctionsFor("1.38.3")?.wasi).not.toContain("fd_filestat_get");
      const f = await withImport({ module: "wasi_snapshot_preview1", name: "fd_filestat_get" });
      expect(checkModule(f, { toolchain: "go", envoyVersion: "1.39.0" }).errors).toEqual([]);
      expect(checkModule(f, { toolchain: "go", envoyVersion: "1.40.0" }).errors).toEqual([]);
      expect(checkModule(f, { toolchain: "go" }).errors).toEqual([]);
      const { errors } = checkModule(f, { toolchain: "go", envoyVersion: "1.38.3" });
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain("wasi_snapshot_preview1.fd_filestat_get");
      expect(errors[0]).toContain("Envoy 1.38.3");
    });

    it("allows path_open on every Envoy it knows", async () => {
      const f = await withImport({ module: "wasi_snapshot_preview1", name: "path_open" });
      for (const envoyVersion of ["1.28.0", "1.32.0", "1.38.3", "1.39.0", "1.40.0"]) {
        expect(checkModule(f, { toolchain: "go", envoyVersion }).errors, envoyVersion).toEqual([]);
      }
    });

    it("checks an Envoy older than every known set against the oldest set", async () => {
      const f = await withImport({ module: "wasi_snapshot_preview1", name: "sched_yield" });
      expect(checkModule(f, { toolchain: "go", envoyVersion: "1.20.0" }).errors).toHaveLength(1);
      expect(checkModule(f, { toolchain: "go", envoyVersion: "not-a-version" }).errors).toHaveLength(1);
    });

    it("accepts the legacy wasi_unstable module name", async () => {
      const f = await withImport({ module: "wasi_unstable", name: "fd_write" });
      expect(checkModule(f, { toolchain: "tinygo", envoyVersion: "1.28.0" }).errors).toEqual([]);
    });

    it("refuses an import from a module Envoy does not provide, naming it", async () => {
      const { errors } = checkModule(await withImport({ module: "foo", name: "bar" }), { toolchain: "go" });
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain("foo.bar");
      expect(errors[0]).toContain('module "foo"');
    });

    it("refuses an unknown env function", async () => {
      const { errors } = checkModule(await withImport({ module: "env", name: "proxy_no_such_call" }), { toolchain: "go" });
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain("env.proxy_no_such_call");
    });

    it("allows env.proxy_get_log_level for ABI 0_2_1 but not 0_2_0", async () => {
      expect(ENV_ABI_SPECIFIC["0_2_0"]).not.toContain("proxy_get_log_level");
      expect(ENV_ABI_SPECIFIC["0_2_1"]).toContain("proxy_get_log_level");
      const imports = [...GOOD_IMPORTS, { module: "env", name: "proxy_get_log_level" }];
      const v020 = checkModule(await facts({ imports }), { toolchain: "go" });
      expect(v020.errors).toHaveLength(1);
      expect(v020.errors[0]).toContain("env.proxy_get_log_level");
      const exports021 = replaceExport("proxy_abi_version_0_2_0", "proxy_abi_version_0_2_1");
      expect(checkModule(await facts({ exports: exports021, imports }), { toolchain: "go" }).errors).toEqual([]);
    });

    it("applies the 0_1_0 ABI's own host functions", async () => {
      const exports010 = replaceExport("proxy_abi_version_0_2_0", "proxy_abi_version_0_1_0");
      const old = { module: "env", name: "proxy_continue_request" };
      const modern = { module: "env", name: "proxy_continue_stream" };
      expect(checkModule(await facts({ exports: exports010, imports: [old] }), { toolchain: "go" }).errors).toEqual([]);
      expect(checkModule(await facts({ imports: [old] }), { toolchain: "go" }).errors).toHaveLength(1);
      expect(checkModule(await facts({ exports: exports010, imports: [modern] }), { toolchain: "go" }).errors).toHaveLength(1);
      expect(checkModule(await facts({ imports: [modern] }), { toolchain: "go" }).errors).toEqual([]);
    });

    it("allows imported memories and tables whatever their names, but not globals", async () => {
      const imports: WasmImport[] = [
        ...GOOD_IMPORTS,
        { module: "whatever", name: "mem", kind: "memory" },
        { module: "env", name: "__indirect_function_table", kind: "table" },
      ];
      expect(checkModule(await facts({ imports }), { toolchain: "go" }).errors).toEqual([]);
      const { errors } = checkModule(await facts({ imports: [...imports, { module: "env", name: "__stack_pointer", kind: "global" }] }), {
        toolchain: "go",
      });
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain("imports the global env.__stack_pointer");
    });

    it("reports every problem at once", async () => {
      const f = await facts({
        exports: ["memory", "_start"],
        imports: [
          { module: "foo", name: "bar" },
          { module: "wasi_snapshot_preview1", name: "sched_yield" },
        ],
      });
      const { errors } = checkModule(f, { toolchain: "go", envoyVersion: "1.32.0" });
      expect(errors).toHaveLength(5);
      expect(errors.join("\n")).toMatch(/proxy_abi_version[\s\S]*_start[\s\S]*malloc[\s\S]*foo\.bar[\s\S]*sched_yield/);
    });
  });
});

describe("initial memory", () => {
  it("reads the initial pages of the module's memory and warns from 16 MiB", async () => {
    const small = await inspectModule(buildModule({ exports: GOOD_EXPORTS, imports: GOOD_IMPORTS, memoryPages: 43 }));
    expect(small.initialMemoryPages).toBe(43);
    expect(checkModule(small, { toolchain: "go", envoyVersion: "1.40.0" }).warnings).toEqual([]);

    // What Go 1.26.0-1.26.2 produce (golang/go#78321): 550 pages.
    const large = await inspectModule(buildModule({ exports: GOOD_EXPORTS, imports: GOOD_IMPORTS, memoryPages: 550 }));
    expect(large.initialMemoryPages).toBe(550);
    const result = checkModule(large, { toolchain: "go", envoyVersion: "1.40.0" });
    expect(result.errors).toEqual([]);
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toContain("starts with 34 MiB of memory");
    expect(result.warnings[0]).toContain("Go 1.26.3 or newer");
  });

  it("has no initial size for a module that imports its memory", async () => {
    const facts = await inspectModule(buildModule({ exports: ["memory"], imports: [{ module: "env", name: "memory", kind: "memory" }] }));
    expect(facts.initialMemoryPages).toBeUndefined();
  });
});
