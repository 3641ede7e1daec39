import { readdir, readFile } from "node:fs/promises";
import { BlockText, languageOf, renderText, TemplateError, type TemplateValues } from "./render-text.js";
import path from "node:path";
import type { Toolchain } from "../project/config.js";
import { PACKAGE_ROOT } from "../platform/package-root.js";

/**
 * Project templates: real Go, Rust, TOML and YAML files under templates/, with
 * `{{name}}` placeholders (filled and escaped by render-text.ts). render()
 * turns them into a plan of files and writes nothing.
 */

/** The SDK each toolchain's templates use: a Go module, or a crate. */
export const SDK_MODULES: Record<Toolchain, string> = {
  go: "github.com/proxy-wasm/proxy-wasm-go-sdk",
  tinygo: "github.com/tetratelabs/proxy-wasm-go-sdk",
  rust: "proxy-wasm",
};

/**
 * Where a plugin template's files come from, per toolchain, under
 * templates/plugins/<template>/: `both/` holds what the two Go toolchains
 * share (the tests, written against either SDK through a placeholder).
 * templates/sdk/<toolchain>/ adds what every template of the toolchain
 * shares: the SDK pin (go.mod and go.sum, or Cargo.toml and Cargo.lock), and
 * for Rust src/envoy_log.rs (panics and the `log` crate's level).
 */
const PLUGIN_FLAVOURS: Record<Toolchain, string[]> = { go: ["both", "go"], tinygo: ["both", "tinygo"], rust: ["rust"] };

/** What the shared files (README.md, envoy.yaml's comments) say about a toolchain. */
export const TOOLCHAIN_TEXT: Record<Toolchain, { language: string; pluginFiles: string; testSays: string; configReader: string; needs: string }> = {
  go: {
    language: "Go",
    pluginFiles: "`main.go`, and `main_test.go` (unit tests on the SDK's proxytest emulator)",
    testSays: "go test, natively and against the built .wasm",
    configReader: "proxywasm.GetPluginConfiguration() in OnPluginStart",
    needs: "Go 1.24 or newer and Envoy 1.33 or newer",
  },
  tinygo: {
    language: "Go",
    pluginFiles: "`main.go`, and `main_test.go` (unit tests on the SDK's proxytest emulator)",
    testSays: "go test, natively and against the built .wasm",
    configReader: "proxywasm.GetPluginConfiguration() in OnPluginStart",
    needs: "TinyGo, and Go for the tests and the backend",
  },
  rust: {
    language: "Rust",
    pluginFiles:
      "`src/lib.rs` with its unit tests, `src/envoy_log.rs` (a panic logged as one line, `log` at Envoy's level), `Cargo.toml` and `Cargo.lock` (the proxy-wasm crate)",
    testSays: "cargo test: the plugin's logic, on this machine",
    configReader: "get_plugin_configuration() in on_configure",
    needs: "Rust 1.85 or newer with the wasm32-wasip1 target (`rustup target add wasm32-wasip1`), and Go for the backend",
  },
};

export const TEMPLATES_DIR = path.join(PACKAGE_ROOT, "templates");

export interface TemplateInfo {
  name: string;
  summary: string;
  /** The plugin configuration a new project starts with. */
  pluginConfig: (projectName: string) => Record<string, string>;
}

export const TEMPLATES: readonly TemplateInfo[] = [
  {
    name: "headers",
    summary: "logs request and response headers (the blog's plugin)",
    pluginConfig: () => ({}),
  },
  {
    name: "add-header",
    summary: "adds a response header named in the plugin configuration",
    pluginConfig: (name) => ({ header: "x-envoywasm", value: `hello from ${name}` }),
  },
  {
    name: "auth",
    summary: "answers 403 unless a configured request header carries the right value",
    pluginConfig: () => ({ header: "x-api-key", value: "let-me-in" }),
  },
];

export const DEFAULT_TEMPLATE = "headers";

export interface PlannedFile {
  /** Relative to the project root, with forward slashes. */
  path: string;
  contents: string | Buffer;
  /** File mode for a copied file (e.g. an executable script). */
  mode?: number;
}

export interface RenderInput {
  template: string;
  toolchain: Toolchain;
  values: TemplateValues;
  /** Where the plugin and backend modules go, relative to the project root. */
  pluginDir: string;
  backendDir: string;
}

export function findTemplate(name: string): TemplateInfo | undefined {
  return TEMPLATES.find((t) => t.name === name);
}

/** Files a project gets: the shared ones, then the plugin flavour for the toolchain. */
export async function render(input: RenderInput, templatesDir = TEMPLATES_DIR): Promise<PlannedFile[]> {
  const common = path.join(templatesDir, "common");
  const pluginDirs = [
    path.join(templatesDir, "sdk", input.toolchain),
    ...PLUGIN_FLAVOURS[input.toolchain].map((d) => path.join(templatesDir, "plugins", input.template, d)),
  ];
  const sources: { from: string; to: string }[] = [];
  for (const rel of await listFiles(common)) {
    const to = rel.startsWith("backend/") ? `${input.backendDir}/${rel.slice("backend/".length)}` : rel;
    sources.push({ from: path.join(common, rel), to: outputName(to) });
  }
  for (const plugin of pluginDirs) {
    for (const rel of await listFiles(plugin)) {
      sources.push({ from: path.join(plugin, rel), to: `${input.pluginDir}/${outputName(rel)}` });
    }
  }
  // The template's e2e cases (envoywasm test), in the project's e2e/.
  const cases = path.join(templatesDir, "e2e", `${input.template}.yaml`);
  if ((await readFile(cases).catch(() => undefined)) !== undefined) sources.push({ from: cases, to: `e2e/${input.template}.yaml` });
  const files: PlannedFile[] = [await workflow(input, templatesDir)];
  for (const source of sources) {
    const text = await readFile(source.from, "utf8");
    let contents = renderText(text, input.values, languageOf(source.to), source.to);
    if (path.posix.basename(source.to) === "Cargo.lock") contents = sortCargoLock(contents);
    files.push({ path: source.to, contents });
  }
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

/** Where a project's GitHub Actions workflow goes. */
export const WORKFLOW_FILE = ".github/workflows/envoywasm.yml";
/** templates/ci/setup-<name>.yml steps each toolchain needs before envoywasm runs (the Go toolchains build with Go). */
const CI_SETUP: Record<Toolchain, string[]> = { go: ["go"], tinygo: ["go", "tinygo"], rust: ["rust"] };

/** templates/ci/workflow.yml, with the toolchain's setup steps in their place. */
async function workflow(input: RenderInput, templatesDir: string): Promise<PlannedFile> {
  const ci = path.join(templatesDir, "ci");
  const setups: string[] = [];
  for (const name of CI_SETUP[input.toolchain]) {
    const file = `templates/ci/setup-${name}.yml`;
    setups.push(renderText(await readFile(path.join(ci, `setup-${name}.yml`), "utf8"), input.values, "yaml", file).trimEnd());
  }
  const values = { ...input.values, toolchainSetup: new BlockText(setups.join("\n")) };
  return { path: WORKFLOW_FILE, contents: renderText(await readFile(path.join(ci, "workflow.yml"), "utf8"), values, "yaml", "templates/ci/workflow.yml") };
}

/**
 * Cargo.lock lists its packages sorted by name, and cargo rewrites a lock
 * whose order differs. The template's holds the plugin's own crate under a
 * placeholder name, so put it where its real name sorts: the lock a project
 * starts with is the one cargo keeps, and the first build changes no file.
 */
export function sortCargoLock(text: string): string {
  const [head, ...packages] = text.split(/^(?=\[\[package\]\]$)/m);
  const key = (block: string) => {
    const field = (name: string) => new RegExp(`^${name} = "([^"]*)"$`, "m").exec(block)?.[1] ?? "";
    return [field("name"), field("version")] as const;
  };
  // cargo orders by name, then version; byte order, as Rust compares strings.
  const byBytes = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const sorted = packages
    .map((block) => ({ block: block.endsWith("\n\n") ? block : `${block.replace(/\n*$/, "")}\n\n`, key: key(block) }))
    .sort((a, b) => byBytes(a.key[0], b.key[0]) || byBytes(a.key[1], b.key[1]))
    .map((p) => p.block);
  return `${head}${sorted.join("")}`.replace(/\n+$/, "\n");
}

/** npm drops files named .gitignore from packages, so the template keeps it as `gitignore`. */
function outputName(rel: string): string {
  return rel
    .split("/")
    .map((part) => (part === "gitignore" ? ".gitignore" : part))
    .join("/");
}

async function listFiles(dir: string, prefix = ""): Promise<string[]> {
  const entries = await readdir(path.join(dir, prefix), { withFileTypes: true });
  const out: string[] = [];
  for (const entry of entries) {
    const rel = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else if (entry.isFile()) out.push(rel);
  }
  return out;
}

/**
 * The crates the rust templates' Cargo.lock holds. The plugin's crate takes
 * the project's name, and cargo cannot build a crate named like one it
 * depends on without colliding in target/ (it rebuilds every other time).
 */
export async function lockedCrates(templatesDir = TEMPLATES_DIR): Promise<string[]> {
  const lock = await readFile(path.join(templatesDir, "sdk", "rust", "Cargo.lock"), "utf8");
  return [...lock.matchAll(/^name = "([^"{}]+)"$/gm)].map((m) => m[1]!);
}

/**
 * The SDK and version the templates pin for a toolchain: the exact version
 * in templates/sdk/<toolchain>/go.mod, or the requirement in
 * templates/sdk/rust/Cargo.toml (its Cargo.lock holds the exact one).
 */
export async function pinnedSdk(toolchain: Toolchain, templatesDir = TEMPLATES_DIR): Promise<{ module: string; version: string }> {
  const module = SDK_MODULES[toolchain];
  const file = toolchain === "rust" ? "Cargo.toml" : "go.mod";
  const text = await readFile(path.join(templatesDir, "sdk", toolchain, file), "utf8");
  const escaped = module.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pattern = toolchain === "rust" ? new RegExp(`^${escaped}\\s*=\\s*"([^"]+)"`, "m") : new RegExp(`${escaped}\\s+(v\\S+)`);
  const version = pattern.exec(text)?.[1];
  if (version === undefined) throw new TemplateError(`templates/sdk/${toolchain}/${file} does not require ${module}`);
  return { module, version };
}
