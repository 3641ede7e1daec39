import { existsSync, readFileSync, statSync, type Stats } from "node:fs";
import path from "node:path";
import { closest } from "../platform/closest.js";
import { readConfigText } from "./config-lines.js";
import { constraintViolation, unknownField, where, type Diagnosis, type FileContext } from "./config-errors.js";
import { firstGoPanic } from "./go-panic.js";
import { recordsOf } from "./log-records.js";

/**
 * Envoy explains a failure as a cascade: one line with the cause, then
 * generic ones ("Wasm VM failed …", "Plugin configured to fail closed …",
 * "error initializing configuration …"). This finds the first line that says
 * something specific and turns it into one explanation with a way out.
 */
interface Rule {
  pattern: RegExp;
  explain: (m: RegExpExecArray, lines: readonly string[], files: FileContext | undefined) => Diagnosis;
}

const RULES: Rule[] = [
  {
    // A warning line, but the real reason for the cascade that follows.
    pattern: /Failed to create Wasm VM using (\S+) runtime\. Envoy was compiled without support for it/,
    explain: (m) => ({
      message: `this Envoy was built without the ${m[1]} Wasm runtime`,
      hint: "remove vm_config.runtime from envoy.yaml (Envoy then uses the runtime it has), or set it to envoy.wasm.runtime.v8, which official builds carry",
    }),
  },
  {
    // A file envoy.yaml names (a DataSource's filename): missing, or shut out by its mode.
    // Envoy says "does not exist" for a file it cannot open, whatever the reason.
    pattern: /unable to read file: ([^\s`']+)|\bfile ([^\s`']+) does not exist/,
    explain: (m, _lines, files) =>
      unreadable(m[1] ?? m[2]!, files, {
        message: `Envoy cannot read ${m[1] ?? m[2]}`,
        hint: "check the path in envoy.yaml (relative paths are relative to the project folder) and that the file is readable",
      }),
  },
  {
    pattern: /Didn't find a registered implementation for '(envoy\.wasm\.runtime\.\w+)'/,
    explain: (m) => ({
      message: `this Envoy was built without the ${m[1]} Wasm runtime`,
      hint: "remove vm_config.runtime from envoy.yaml to use the runtime it has, or use an official Envoy build (`envoywasm envoy install`)",
    }),
  },
  {
    pattern: /Didn't find a registered implementation for '([^']+)' with type URL: ''/,
    explain: (m) => ({
      message: `envoy.yaml: filter "${m[1]}" has no typed_config "@type"; Envoy 1.22 and later look filters up by type`,
      hint:
        // envoy.router: the name before 1.14, still in old tutorials' configs
        m[1] === "envoy.filters.http.router" || m[1] === "envoy.router"
          ? 'give it typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }'
          : 'add the filter\'s typed_config with its "@type"',
    }),
  },
  {
    pattern: /missing import: (\S+?)\.(\S+)/,
    explain: (m) => ({
      message: `the plugin imports ${m[1]}.${m[2]}, which this Envoy's Wasm host does not provide`,
      hint:
        m[1] === "wasi_snapshot_preview1"
          ? "Go >= 1.24 plugins need Envoy 1.33 or newer; otherwise drop the os/net/file use that pulls it in"
          : "the SDK is newer than this Envoy: use a newer Envoy or an older SDK",
    }),
  },
  {
    pattern: /restricted_callback/,
    explain: () => ({
      message: "the plugin was built as a WASI command (it exports _start), and its main() exits during VM start",
      hint: "build with -buildmode=c-shared (`envoywasm build` does) and register contexts in init(), not main()",
    }),
  },
  {
    pattern: /Missing or unknown Proxy-Wasm ABI version/,
    explain: () => ({
      message: "the module is not a proxy-wasm plugin (no proxy_abi_version_* export)",
      hint: "import github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm and call proxywasm.SetVMContext in init()",
    }),
  },
  {
    // A Go panic while the VM or the plugin starts (OnVMStart, OnPluginStart, NewPluginContext), told by its message.
    pattern: /Function: proxy_on_\w+ failed: Uncaught/,
    explain: (m, lines, files) => {
      const panic = firstGoPanic(lines, files?.root ?? process.cwd());
      if (panic === undefined)
        return {
          message: `the plugin trapped while starting (${m[0].replace(/^Function: /, "").replace(/ failed:.*$/, "")})`,
          hint: "its log above says where",
        };
      if (panic.unregistered) {
        return {
          message: `the plugin registered no VM context: it panicked in ${panic.callback} (${panic.message ?? "nil pointer dereference"}) because proxywasm.SetVMContext was never called`,
          hint: "call proxywasm.SetVMContext in func init(): a c-shared Go module never runs main()",
        };
      }
      const at = [panic.func, panic.location === undefined ? undefined : `(${panic.location})`].filter(Boolean).join(" ");
      return {
        message: `the plugin panicked while starting (in ${panic.callback}): ${panic.message ?? "see its log"}${at === "" ? "" : ` at ${at}`}`,
        hint: "fix it and run `envoywasm up` again; `envoywasm logs envoy` has the whole panic",
      };
    },
  },
  {
    pattern: /Failed to (?:configure|start) base Wasm plugin|Failed to start base Wasm/,
    explain: (_m, lines, files) => {
      // The plugin's last message, whole (a message may hold newlines: Envoy writes those as lines of their own).
      const last = recordsOf(
        "envoy",
        lines.map((line) => ({ line })),
        files?.root ?? process.cwd(),
      )
        .filter((r) => r.plugin !== undefined)
        .at(-1);
      const said = last?.lines.map((l, i) => (i === 0 ? l.replace(/^.*?wasm log ?/, "") : l)).join("\n");
      return {
        message: "the plugin rejected its start-up (OnPluginStart or OnVMStart returned false)",
        hint: said === undefined ? "check the plugin configuration in envoy.yaml" : `its last log line: ${said}`,
      };
    },
  },
  {
    pattern: /Invalid path: ([^\s`']+)/,
    explain: (m, _lines, files) =>
      unreadable(m[1]!, files, {
        message: `Envoy cannot read ${m[1]}`,
        hint: "check the module path in envoy.yaml (vm_config.code.local.filename, relative to the project root); `envoywasm build` writes it there",
      }),
  },
  {
    pattern: /Failed to (?:load Wasm code|parse corrupted Wasm module|load Wasm bytecode)/,
    explain: () => ({
      message: "Envoy could not parse the module it loads: it is not a WebAssembly module",
      hint: "check which file vm_config.code.local.filename in envoy.yaml names; modules envoywasm builds are checked before Envoy sees them",
    }),
  },
  {
    pattern: /unable to bind domain socket with base_id=(\d+)/,
    explain: (m) => ({
      message: `another Envoy already uses base id ${m[1]}`,
      hint: "stop the other Envoy (`envoywasm down` in its project), or give this one another: `envoywasm up --base-id <n>`",
    }),
  },
  {
    pattern: /cannot bind '([^']+)': (Address already in use|Permission denied|Cannot assign requested address)/,
    explain: (m) => ({
      message: `Envoy cannot listen on ${m[1]}: ${m[2]}`,
      hint: "pick another port in envoy.yaml, or stop what uses it",
    }),
  },
  {
    // Envoy 1.3x: "invalid JSON in <type> @ <path>: message <type>, near 1:1663 (offset 1662): no such field: 'stat_prefx'"
    // (its protobuf text doubles spaces at random, on purpose: match any run of them).
    pattern: /@\s+(\S+):\s+message\s+([\w.]+),.*?no\s+such\s+field:\s+'([^']+)'/,
    explain: (m, _lines, files) => unknownField(m[3]!, m[1]!, m[2], files),
  },
  {
    pattern: /INVALID_ARGUMENT:\(?([^)]*)\)?\s*(\w+): Cannot find field/,
    explain: (m, _lines, files) => unknownField(m[2]!, m[1] ?? "", undefined, files),
  },
  {
    pattern: /unknown\s+cluster\s+'([^']+)'/,
    explain: (m, _lines, files) => {
      const name = m[1]!;
      const config = files?.envoyConfig === undefined ? undefined : readConfigText(files.envoyConfig);
      const clusters = config?.valuesOf(["static_resources", "clusters", "name"]) ?? [];
      const near = closest(name, clusters);
      const at = config?.linesOfPair("cluster", name)[0];
      return {
        message: `${where(files, at)}: a route sends requests to cluster "${name}", which is not defined`,
        hint: `${near === undefined ? "" : `did you mean "${near}"? `}the clusters are ${clusters.length === 0 ? "none (static_resources.clusters is empty)" : clusters.join(", ")}`,
      };
    },
  },
  {
    pattern: /could not find @type '([^']+)'/,
    explain: (m, _lines, files) => {
      const at = files?.envoyConfig === undefined ? undefined : readConfigText(files.envoyConfig)?.linesOfPair("@type", m[1]!)[0];
      return {
        message: `${where(files, at)}: unknown @type "${m[1]}"`,
        hint: "check the type's name against Envoy's API reference (a typo, or an extension this Envoy build does not have)",
      };
    },
  },
  {
    pattern: /unknown enum value: '([^']+)'/,
    explain: (m, _lines, files) => {
      const at = files?.envoyConfig === undefined ? undefined : readConfigText(files.envoyConfig)?.linesOfPair(undefined, m[1]!)[0];
      return { message: `${where(files, at)}: "${m[1]}" is not one of the field's values`, hint: "check the values that field takes in Envoy's API reference" };
    },
  },
  {
    pattern: /(?:Unable to convert YAML as JSON|Unable to parse JSON as proto)[^:]*: ?(.*)$/,
    explain: (m) => ({ message: `envoy.yaml is not valid: ${m[1]}`, hint: "fix envoy.yaml" }),
  },
  {
    pattern: /Proto constraint validation failed \((.*)\)/,
    explain: (m, _lines, files) => constraintViolation(m[1]!, files),
  },
  {
    pattern: /Invalid duration: (.*?)(?:: goo\.gle|$)/,
    explain: (m, _lines, files) => {
      const config = files?.envoyConfig === undefined ? undefined : readConfigText(files.envoyConfig);
      const at = config?.linesOfPair(undefined, /^-\d/)[0];
      return { message: `${where(files, at)}: a duration is not valid (${m[1]!.trim()})`, hint: 'durations are positive, written like "0.25s" or "5s"' };
    },
  },
];

export function diagnoseEnvoy(lines: readonly string[], files?: FileContext): Diagnosis | undefined {
  for (const rule of RULES) {
    for (const line of lines) {
      const m = rule.pattern.exec(line);
      if (m !== null) return rule.explain(m, lines, files);
    }
  }
  return undefined;
}

/**
 * Why Envoy could not read a file, found on the file itself: the host path
 * behind the path Envoy was given (a container path in Docker), the line of
 * envoy.yaml that names it, and what shuts Envoy's user out (no such file,
 * a folder it cannot enter, a mode). Envoy in a container has no
 * capabilities, so even root there goes by the modes.
 */
export function unreadable(named: string, files: FileContext | undefined, fallback: Diagnosis): Diagnosis {
  if (files === undefined) return fallback;
  const container = files.container;
  let host: string;
  if (container !== undefined && path.posix.isAbsolute(named)) {
    if (named !== container.mount && !named.startsWith(`${container.mount}/`)) {
      return {
        message: `Envoy in its container cannot see ${named}: only the project folder is mounted there (at ${container.mount})`,
        hint: "keep the files envoy.yaml names inside the project folder, and name them relative to it",
      };
    }
    host = path.join(files.root, named.slice(container.mount.length));
  } else host = path.resolve(files.root, named);
  const relative = path.relative(files.root, host);
  const shown = relative === "" || relative.startsWith("..") || path.isAbsolute(relative) ? host : relative;
  const line = files.envoyConfig === undefined ? undefined : lineNaming(files.envoyConfig, [named, relative, path.basename(host)]);
  const where = line === undefined ? "" : ` (${path.relative(files.root, files.envoyConfig!) || files.envoyConfig}:${line})`;
  const who = container === undefined ? nativeUser() : containerUser(container);
  const reader = container === undefined ? "Envoy" : `Envoy in its container (user ${container.user}, no capabilities)`;
  if (!existsSync(host)) {
    return { message: `Envoy cannot read ${shown}${where}: there is no such file`, hint: fallback.hint };
  }
  const inside = !relative.startsWith("..") && !path.isAbsolute(relative);
  const folders: string[] = [];
  if (inside)
    for (let d = path.dirname(host); ; d = path.dirname(d)) {
      folders.unshift(d);
      if (d === files.root || d === path.dirname(d)) break;
    }
  for (const folder of folders) {
    const st = statSync(folder);
    if (!allowed(st, who, 0o1)) {
      const name = path.relative(files.root, folder);
      return {
        message: `${reader} cannot read ${shown}${where}: it cannot enter ${name === "" ? "the project folder" : `${name}/`} (mode ${octal(st.mode)}, owner uid ${st.uid})`,
        hint: `let it in: \`chmod a+x ${name === "" ? folder : name}\``,
      };
    }
  }
  const st = statSync(host);
  if (!allowed(st, who, 0o4)) {
    return {
      message: `${reader} cannot read ${shown}${where}: it is mode ${octal(st.mode)} and belongs to uid ${st.uid}`,
      hint: `make it readable: \`chmod a+r ${shown}\`${container === undefined ? "" : " (the container reads the project as you do, without root's rights)"}`,
    };
  }
  return { message: `${fallback.message.replace(named, shown)}${where}`, hint: fallback.hint };
}

interface Reader {
  uid: number;
  gids: number[];
  /** Root outside a container reads anything (CAP_DAC_OVERRIDE). */
  overrides: boolean;
}

function nativeUser(): Reader {
  const uid = process.getuid?.() ?? -1;
  return { uid, gids: [process.getgid?.() ?? -1, ...(process.getgroups?.() ?? [])], overrides: uid === 0 };
}

function containerUser(c: { user: string; groups: number[] }): Reader {
  const [uid, gid] = c.user.split(":").map(Number);
  return { uid: uid ?? -1, gids: [gid ?? -1, ...c.groups], overrides: false };
}

function allowed(st: Stats, who: Reader, bit: number): boolean {
  if (who.overrides) return true;
  const shift = st.uid === who.uid ? 6 : who.gids.includes(st.gid) ? 3 : 0;
  return ((st.mode >> shift) & bit) !== 0;
}

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8)}`;
}

function lineNaming(file: string, candidates: string[]): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const lines = text.split("\n");
  for (const c of candidates.filter((x) => x !== "")) {
    const i = lines.findIndex((l) => l.includes(c) && !/^\s*#/.test(l));
    if (i >= 0) return i + 1;
  }
  return undefined;
}

/** Envoy's own error lines, without the info chatter around them. */
export function envoyErrorLines(lines: readonly string[]): string[] {
  return lines.filter((l) => /\]\[(error|critical)\]\[|^error|exiting/.test(l) || !/^\[\d{4}-/.test(l)).filter((l) => l.trim() !== "");
}
