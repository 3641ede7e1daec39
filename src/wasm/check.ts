import type { Toolchain } from "../project/config.js";
import {
  ENV_ABI_SPECIFIC,
  ENV_MODULE,
  envFunctionsForAbi,
  HOST_FUNCTION_SETS,
  hostFunctionsFor,
  WASI_MODULE,
  WASI_UNSTABLE_MODULE,
  type HostFunctionSet,
  type ProxyWasmAbiVersion,
} from "./host-abi.js";

/**
 * Checks a built module the way Envoy will load it, but before Envoy does:
 * Node's own compiler must accept it, it must export the proxy-wasm entry
 * points Envoy calls, and it may import only what Envoy's Wasm host provides.
 * Envoy reports the last as a "missing import" only when it starts.
 */

export interface ModuleFacts {
  exports: string[];
  imports: { module: string; name: string; kind: string }[];
  abiVersion: string | undefined;
  /** The module's own memory's initial size in 64 KiB pages, when it defines one. */
  initialMemoryPages?: number;
}

export interface CheckResult {
  facts: ModuleFacts;
  errors: string[];
  warnings: string[];
  /** The Envoy version whose host functions the imports were checked against. */
  checkedAgainst: string;
}

/** Exports Envoy needs from any HTTP filter plugin. */
const REQUIRED_EXPORTS = [
  "memory",
  "proxy_on_context_create",
  "proxy_on_vm_start",
  "proxy_on_configure",
  "proxy_on_request_headers",
  "proxy_on_response_headers",
  "proxy_on_done",
  "proxy_on_delete",
] as const;

export class WasmCompileError extends Error {}

export async function inspectModule(bytes: Uint8Array): Promise<ModuleFacts> {
  let module: WebAssembly.Module;
  try {
    module = await WebAssembly.compile(bytes);
  } catch (error) {
    throw new WasmCompileError(error instanceof Error ? error.message : String(error));
  }
  const exports = WebAssembly.Module.exports(module).map((e) => e.name);
  const imports = WebAssembly.Module.imports(module).map((i) => ({ module: i.module, name: i.name, kind: i.kind }));
  const abi = exports.find((e) => e.startsWith("proxy_abi_version_"));
  const pages = initialMemoryPages(bytes);
  return { exports, imports, abiVersion: abi?.slice("proxy_abi_version_".length), initialMemoryPages: pages };
}

/** Reads the first memory's initial page count from the memory section (id 5). */
export function initialMemoryPages(bytes: Uint8Array): number | undefined {
  let i = 8; // magic and version
  const leb = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = bytes[i++];
      if (byte === undefined) throw new RangeError("truncated");
      result += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if ((byte & 0x80) === 0) return result;
    }
  };
  try {
    while (i < bytes.length) {
      const id = bytes[i++];
      const size = leb();
      const end = i + size;
      if (id === 5) {
        if (leb() === 0) return undefined;
        i++; // limits flags
        return leb();
      }
      i = end;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** How to make a module a proxy-wasm plugin, per toolchain. */
const NOT_A_PLUGIN: Record<Toolchain, string> = {
  go: "Import github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm and call proxywasm.SetVMContext in init()",
  tinygo: "Import github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm and call proxywasm.SetVMContext in main()",
  rust: "Depend on the proxy-wasm crate and register the root context in proxy_wasm::main! { … }",
};

/** ABI versions of SDK forks for gateways built on Envoy, which upstream Envoy refuses, and what to build against instead. */
const FORK_ABIS: Record<string, string> = {
  "0_2_100":
    "that is Higress's, whose fork of the Go SDK (github.com/higress-group/proxy-wasm-go-sdk) runs only in Higress; for Envoy, build against github.com/proxy-wasm/proxy-wasm-go-sdk",
};

/** A Go module that starts with this much memory per VM is worth a word (16 MiB). */
const LARGE_INITIAL_PAGES = 256;

export function checkModule(facts: ModuleFacts, options: { toolchain: Toolchain; envoyVersion?: string }): CheckResult {
  const errors: string[] = [];
  const warnings: string[] = [];
  const has = new Set(facts.exports);

  const abi = facts.abiVersion !== undefined && facts.abiVersion in ENV_ABI_SPECIFIC ? (facts.abiVersion as ProxyWasmAbiVersion) : undefined;
  if (facts.abiVersion !== undefined && abi === undefined) {
    errors.push(
      `it exports proxy_abi_version_${facts.abiVersion}, an ABI version Envoy does not know (it knows ${Object.keys(ENV_ABI_SPECIFIC).join(", ")})` +
        (facts.abiVersion in FORK_ABIS ? `: ${FORK_ABIS[facts.abiVersion]}` : ""),
    );
  }
  if (facts.abiVersion === undefined) {
    errors.push(`it is not a proxy-wasm plugin: no proxy_abi_version_* export. ${NOT_A_PLUGIN[options.toolchain]}`);
  }
  if (options.toolchain === "go" && has.has("_start") && !has.has("_initialize")) {
    errors.push(
      "it was built as a WASI command (exports _start, not _initialize); Envoy would fail it with `restricted_callback`. Build with -buildmode=c-shared and register contexts in init(), not main()",
    );
  } else if (options.toolchain === "go" && !has.has("_initialize")) {
    errors.push("it does not export _initialize, which a Go reactor module (-buildmode=c-shared) must");
  } else if (options.toolchain === "tinygo" && !has.has("_initialize") && !has.has("_start")) {
    errors.push("it exports neither _initialize nor _start, so Envoy cannot initialise the Go runtime");
  } else if (options.toolchain === "rust" && !has.has("_initialize") && !has.has("_start")) {
    // A cdylib for wasm32-wasip1 exports no entry point of its own: the SDK's main! macro defines
    // _initialize (which runs static constructors, then the registration), and the SDK's older
    // examples defined _start. Envoy calls either once when the VM starts; with neither, no root
    // context is ever registered and the first callback fails.
    errors.push("it exports neither _initialize nor _start, so no root context is registered: register it in proxy_wasm::main! { … }");
  }
  if (!has.has("malloc") && !has.has("proxy_on_memory_allocate")) {
    errors.push('it exports neither proxy_on_memory_allocate nor malloc; Envoy cannot pass data to it ("Wasm module is missing malloc function")');
  }
  if (facts.abiVersion !== undefined) {
    for (const name of REQUIRED_EXPORTS) {
      if (!has.has(name)) errors.push(`missing export ${name}, which Envoy calls on an HTTP filter plugin`);
    }
  }

  if (facts.initialMemoryPages !== undefined && facts.initialMemoryPages >= LARGE_INITIAL_PAGES) {
    const mib = Math.round((facts.initialMemoryPages * 64) / 1024);
    warnings.push(
      `the module starts with ${mib} MiB of memory, and Envoy makes one VM per worker thread (plus one)` +
        (options.toolchain === "go" ? "; Go 1.26.0 to 1.26.2 start every wasip1 module with ~34 MiB (golang/go#78321): use Go 1.26.3 or newer" : ""),
    );
  }
  const set = pickHostSet(options.envoyVersion);
  const checkedAgainst = options.envoyVersion ?? `${set.since} (the newest known)`;
  const env = new Set(abi === undefined ? set.env : envFunctionsForAbi(set, abi));
  const wasi = new Set(set.wasi);
  for (const imp of facts.imports) {
    const label = `${imp.module}.${imp.name}`;
    if (imp.kind === "memory" || imp.kind === "table") {
      // The runtime creates imported memories and tables itself, whatever their names.
      continue;
    } else if (imp.kind !== "function") {
      errors.push(`imports the ${imp.kind} ${label}; Envoy's Wasm host provides only functions (it fails a module importing a ${imp.kind})`);
    } else if (imp.module === ENV_MODULE) {
      if (!env.has(imp.name)) {
        errors.push(
          `imports ${label}, a host function Envoy ${checkedAgainst} does not provide (Envoy would fail with "missing import"); the SDK may be newer than this Envoy`,
        );
      }
    } else if (imp.module === WASI_MODULE || imp.module === WASI_UNSTABLE_MODULE) {
      if (!wasi.has(imp.name)) {
        errors.push(
          `imports ${label}, a WASI function Envoy ${checkedAgainst} does not provide (Envoy would fail with "missing import"); it usually comes from os, net or file use in the plugin`,
        );
      }
    } else {
      errors.push(`imports ${label} from module "${imp.module}", which Envoy does not provide (only env, ${WASI_MODULE} and ${WASI_UNSTABLE_MODULE})`);
    }
  }
  return { facts, errors, warnings, checkedAgainst };
}

function pickHostSet(envoyVersion: string | undefined): HostFunctionSet {
  const newest = HOST_FUNCTION_SETS[HOST_FUNCTION_SETS.length - 1]!;
  if (envoyVersion === undefined) return newest;
  return hostFunctionsFor(envoyVersion) ?? HOST_FUNCTION_SETS[0]!;
}
