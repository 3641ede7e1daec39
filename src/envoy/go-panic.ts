import { readdirSync, readFileSync, type Dirent } from "node:fs";
import path from "node:path";

/**
 * A Go plugin's panic as Envoy prints it: the Go runtime writes the panic in
 * many small writes and Envoy logs each as a `wasm log` line of its own
 * ("panic: ", the message, "goroutine ", "1", " [", "running", …, the frame
 * "main.(*httpContext).OnHttpRequestHeaders", "\t", "/abs/main.go", ":",
 * "50"; built with -trimpath, "example.com/my-plugin/plugin/main.go"), then
 * "Function: proxy_on_… failed: Uncaught RuntimeError" and V8's backtrace of the VM.
 */
export interface GoPanic {
  /** The panic message, e.g. "assignment to entry in nil map". */
  message?: string;
  /** The plugin's function that panicked, e.g. main.(*httpContext).OnHttpRequestHeaders. */
  func?: string;
  /** Where, relative to the project root when it is inside it, e.g. plugin/main.go:50. */
  location?: string;
}

/** The text of one `wasm log` line of Envoy's log (the plugin's words after its names). */
export const PLUGIN_FRAGMENT = /\]\[\w+\]\[wasm\].*? wasm log(?: [^:]*)?: ?(.*)$/;
/** Envoy telling that a callback into the VM trapped. */
export const TRAP_LINE = /Function: (\w+) failed: Uncaught \w+: /;
/** A frame of V8's backtrace of the VM. */
export const BACKTRACE_FRAME = /^\s+\d+:\s+0x[0-9a-f]+ - (\S+)$/;

/** Reads a panic from the fragments that follow "panic: " (or "fatal error: "). */
export function parseGoPanic(fragments: readonly string[], root: string): GoPanic {
  const out: GoPanic = {};
  const start = fragments.findIndex((f) => /^(panic|fatal error): /.test(f));
  if (start < 0) return out;
  const rest = fragments.slice(start);
  const inline = rest[0]!.replace(/^(panic|fatal error): /, "").trim();
  const message = inline !== "" ? inline : rest[1]?.trim();
  if (message !== undefined && message !== "") out.message = message.replace(/ \[recovered\]$/, "");
  const func = rest.find((f) => /^main\.\S+$/.test(f));
  if (func !== undefined) out.func = func;
  let modules: GoModule[] | undefined;
  for (let i = 0; i < rest.length; i++) {
    const file = rest[i]!;
    if (!/^\S+\.go$/.test(file)) continue;
    let at: string | undefined;
    if (file.startsWith("/")) {
      if (file.includes("/pkg/mod/") || file.includes("/src/runtime/")) continue;
      const rel = path.relative(root, file);
      at = rel.startsWith("..") ? file : rel;
    } else {
      // Built with -trimpath: "<module path>/<file in the module>", found by the project's go.mod files.
      modules ??= goModules(root);
      at = inModule(file, modules, root);
      if (at === undefined) continue;
    }
    const line = rest[i + 1] === ":" && /^\d+$/.test(rest[i + 2] ?? "") ? `:${rest[i + 2]}` : "";
    out.location = at + line;
    break;
  }
  return out;
}

interface GoModule {
  /** The module path its go.mod declares, e.g. example.com/my-plugin/plugin. */
  path: string;
  dir: string;
}

/** A -trimpath file name as a path relative to the project root, when a module of the project holds it (the longest module path wins). */
function inModule(file: string, modules: readonly GoModule[], root: string): string | undefined {
  const owner = modules.filter((m) => file.startsWith(`${m.path}/`)).sort((a, b) => b.path.length - a.path.length)[0];
  return owner === undefined ? undefined : path.relative(root, path.join(owner.dir, file.slice(owner.path.length + 1)));
}

/** The Go modules in the project (its go.mod files, a few folders deep, a bounded walk): read only when a panic names a trimmed path. */
function goModules(root: string): GoModule[] {
  const out: GoModule[] = [];
  let budget = 500;
  const visit = (dir: string, depth: number) => {
    if (budget-- <= 0) return;
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isFile() && e.name === "go.mod") {
        const m = /^module\s+"?([^"\s]+)"?/m.exec(readText(path.join(dir, e.name)));
        if (m !== null) out.push({ path: m[1]!, dir });
      } else if (e.isDirectory() && depth < 3 && !e.name.startsWith(".") && !SKIPPED.has(e.name)) {
        visit(path.join(dir, e.name), depth + 1);
      }
    }
  };
  visit(root, 0);
  return out;
}

const SKIPPED = new Set(["node_modules", "target", "vendor", "testdata"]);

function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

export interface StartPanic extends GoPanic {
  /** The proxy-wasm callback that trapped, e.g. proxy_on_configure. */
  callback: string;
  /** No VM context was ever registered: SetVMContext is not called from an init function. */
  unregistered: boolean;
}

/** The first Go panic in Envoy's lines, with the callback that trapped; undefined when there is none. */
export function firstGoPanic(lines: readonly string[], root: string): StartPanic | undefined {
  const fragments: string[] = [];
  let panicking = false;
  for (let i = 0; i < lines.length; i++) {
    const fragment = PLUGIN_FRAGMENT.exec(lines[i]!);
    if (fragment !== null) {
      if (/^(panic|fatal error): /.test(fragment[1] ?? "")) panicking = true;
      if (panicking) fragments.push(fragment[1] ?? "");
      continue;
    }
    const trap = TRAP_LINE.exec(lines[i]!);
    if (trap === null || !panicking) continue;
    const frames: string[] = [];
    for (let j = i + 1; j < lines.length && frames.length < 40; j++) {
      const frame = BACKTRACE_FRAME.exec(lines[j]!);
      if (frame !== null) frames.push(frame[1]!);
      else if (!/^Proxy-Wasm plugin in-VM backtrace:/.test(lines[j]!)) break;
    }
    const panic = parseGoPanic(fragments, root);
    const inPlugin = frames.some((f) => f.startsWith("main."));
    const unregistered =
      !inPlugin && /nil pointer dereference/.test(panic.message ?? "") && frames.some((f) => /createPluginContext|proxyOnContextCreate|proxyOnVMStart/.test(f));
    return { ...panic, callback: trap[1]!, unregistered };
  }
  return undefined;
}

/** What an SDK's own panic means: its words are about the ABI, not about what to change. */
export interface SdkPanic {
  /** Said instead of "panicked: <message>" when the plugin's code is not at fault, only how envoy.yaml runs it. */
  instead?: string;
  /** What to change. */
  cause: string;
}

const SDK_PANICS: [RegExp, SdkPanic][] = [
  [
    /^invalid context id on proxy_on_context_create$/,
    {
      cause:
        "the plugin context made no context for this stream: NewHttpContext (or NewTcpContext) returned nil, as types.DefaultPluginContext's do; implement the one for the filter envoy.yaml runs the plugin in",
    },
  ],
  [
    // The Go SDK made a TCP context for the stream (NewHttpContext returned nil), then Envoy's HTTP filter called in.
    /^invalid context(?: id)? on proxy_on_(?:request|response)_(?:headers|body|trailers)$/,
    {
      instead: "has no HTTP context for this request: it is a network (TCP) filter, and envoy.yaml loads it as an HTTP filter",
      cause:
        "load it with envoy.filters.network.wasm in a listener's filter_chains, not in http_filters; or, if it is meant to be an HTTP filter, implement NewHttpContext in its plugin context",
    },
  ],
  [
    /^missing ContextType on root_context$/,
    {
      cause:
        "the root context names no context type for this stream: implement get_type() (Some(ContextType::HttpContext)) and create_http_context, or run the plugin as a service (bootstrap_extensions) if it has no per-stream work",
    },
  ],
];

/** What a panic of the SDK itself means, when it is one of the known ones. */
export function sdkPanic(message: string | undefined): SdkPanic | undefined {
  return message === undefined ? undefined : SDK_PANICS.find(([pattern]) => pattern.test(message))?.[1];
}
