/**
 * Envoy explains a failure as a cascade: one line with the cause, then
 * generic ones ("Wasm VM failed …", "Plugin configured to fail closed …",
 * "error initializing configuration …"). This finds the first line that says
 * something specific and turns it into one explanation with a way out.
 */
export interface Diagnosis {
  message: string;
  hint: string;
}

interface Rule {
  pattern: RegExp;
  explain: (m: RegExpExecArray, lines: readonly string[]) => Diagnosis;
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
    // Envoy in a container (uid 101) and a file mode that shuts it out.
    pattern: /unable to read file: ([^\s`']+)/,
    explain: (m) => ({
      message: `Envoy cannot read ${m[1]}`,
      hint: "in Docker, Envoy runs as uid 101 and reads the project through a read-only mount: make the file readable by others (`chmod a+r`)",
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
        m[1] === "envoy.filters.http.router"
          ? 'give it typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }'
          : "add the filter's typed_config with its \"@type\"",
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
    pattern: /Failed to (?:configure|start) base Wasm plugin|Failed to start base Wasm/,
    explain: (_m, lines) => {
      const last = [...lines].reverse().find((l) => /\bwasm log\b/.test(l));
      return {
        message: "the plugin rejected its start-up (OnPluginStart or OnVMStart returned false)",
        hint: last === undefined ? "check the plugin configuration in envoy.yaml" : `its last log line: ${last.replace(/^.*?wasm log /, "")}`,
      };
    },
  },
  {
    pattern: /Invalid path: (\S+)/,
    explain: (m) => ({
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
    pattern: /INVALID_ARGUMENT:\(?([^)]*)\)?\s*(\w+): Cannot find field/,
    explain: (m) => ({
      message: `envoy.yaml: unknown field "${m[2]}"${m[1] ? ` in ${m[1]}` : ""}`,
      hint: "check the spelling against Envoy's API reference for this version",
    }),
  },
  {
    pattern: /(?:Unable to convert YAML as JSON|Unable to parse JSON as proto)[^:]*: ?(.*)$/,
    explain: (m) => ({ message: `envoy.yaml is not valid: ${m[1]}`, hint: "fix envoy.yaml" }),
  },
  {
    pattern: /Proto constraint validation failed \((.*)\)/,
    explain: (m) => ({ message: `envoy.yaml: ${m[1]}`, hint: "fix envoy.yaml" }),
  },
];

export function diagnoseEnvoy(lines: readonly string[]): Diagnosis | undefined {
  for (const rule of RULES) {
    for (const line of lines) {
      const m = rule.pattern.exec(line);
      if (m !== null) return rule.explain(m, lines);
    }
  }
  return undefined;
}

/** Envoy's own error lines, without the info chatter around them. */
export function envoyErrorLines(lines: readonly string[]): string[] {
  return lines.filter((l) => /\]\[(error|critical)\]\[|^error|exiting/.test(l) || !/^\[\d{4}-/.test(l)).filter((l) => l.trim() !== "");
}
