import path from "node:path";
import * as v from "valibot";

/**
 * envoywasm.yaml holds only what envoy.yaml cannot say: the toolchain, the
 * plugins' source folders, the backend, the runtime and an Envoy pin. Ports,
 * the plugin configuration, root_id/vm_id and where each .wasm goes are read
 * from envoy.yaml, the one place they are written.
 *
 * Each check carries its own words: a message, then optionally a line break
 * and a hint. config.ts adds where in the file it is, and words of its own
 * for a key that is not a setting. An empty value (`key:`, null) means unset
 * wherever a setting may be left out.
 */

export const TOOLCHAINS = ["go", "tinygo", "rust"] as const;
export const RUNTIMES = ["native", "docker"] as const;
export const LOG_LEVELS = ["trace", "debug", "info", "warning", "warn", "error", "critical", "off"] as const;

export const NAME_PATTERN = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
export const NAME_RULE = "lowercase letters, digits and single dashes, starting with a letter (e.g. my-plugin)";

type Words = (issue: v.BaseIssue<unknown>) => string;
const say =
  (message: string | ((got: string) => string), hint?: string): Words =>
  (issue) =>
    `${typeof message === "string" ? message : message(show(issue.input))}${hint === undefined ? "" : `\n${hint}`}`;

function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

/** A non-empty string, with `rule` said when it is missing or does not match `pattern`. */
function text(rule?: string, pattern?: RegExp) {
  const words: Words = (issue) =>
    issue.input === undefined || issue.input === null
      ? say("is required", rule === undefined ? undefined : `use ${rule}`)(issue)
      : say((got) => `must be a non-empty string (got ${got})`)(issue);
  const base = v.pipe(v.string(words), v.nonEmpty(words));
  return pattern === undefined
    ? base
    : v.pipe(
        base,
        v.regex(
          pattern,
          say((got) => `is not valid (got ${got})`, `use ${rule}`),
        ),
      );
}

const isInside = (p: string) => !path.isAbsolute(p) && !p.split(/[\\/]/).includes("..");
const relativePath = () =>
  v.pipe(
    text(),
    v.check(
      isInside,
      say((got) => `must be a path inside the project (got ${got})`, "use a path relative to the project root, without .."),
    ),
  );
/** plugin/, ./plugin and plugin name one folder. */
const folder = (dir: string) => path.posix.normalize(dir).replace(/(.)\/+$/, "$1");

function oneOf<const T extends readonly string[]>(options: T, fallback: T[number]) {
  return v.nullish(
    v.picklist(
      options,
      say((got) => `must be one of ${options.join(", ")} (got ${got})`),
    ),
    fallback,
  );
}

const isMapping = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === "object" && !Array.isArray(x);

/** A YAML mapping with only these keys; unset (null) values are left out. */
function mapping<const E extends v.ObjectEntries>(entries: E) {
  const words = say("must be a mapping");
  return v.pipe(v.custom<Record<string, unknown>>(isMapping, words), v.strictObject(entries, words), v.transform(withoutUnset));
}

function withoutUnset<T extends Record<string, unknown>>(o: T): { [K in keyof T]: Exclude<T[K], null> } {
  return Object.fromEntries(Object.entries(o).filter(([, x]) => x !== null && x !== undefined)) as { [K in keyof T]: Exclude<T[K], null> };
}

export const ToolchainSchema = v.picklist(TOOLCHAINS);
export type Toolchain = v.InferOutput<typeof ToolchainSchema>;
export type Runtime = (typeof RUNTIMES)[number];
export type LogLevel = (typeof LOG_LEVELS)[number];

const duplicates = v.rawCheck<string[]>(({ dataset, addIssue }) => {
  if (!dataset.typed) return;
  const seen = new Set<string>();
  dataset.value.forEach((dir, i) => {
    const key = folder(dir);
    if (seen.has(key))
      addIssue({ message: `lists ${JSON.stringify(dir)} twice`, path: [{ type: "array", origin: "value", input: dataset.value, key: i, value: dir }] });
    seen.add(key);
  });
});
const pluginList = say("must be a list of plugin folders, e.g. [plugin]");

const TryRequestSchema = mapping({
  path: text("a path starting with /", /^\/\S*$/),
  method: v.nullish(text("an HTTP method such as GET or POST", /^[A-Z]+$/)),
  /** No headers (`headers: {}`) is as good as none. */
  headers: v.nullish(
    v.pipe(
      v.custom<Record<string, unknown>>(isMapping, say("must be a mapping")),
      v.record(v.string(), text()),
      v.transform((h) => (Object.keys(h).length > 0 ? h : undefined)),
    ),
  ),
});
export type TryRequest = v.InferOutput<typeof TryRequestSchema>;

/** The settings, in the order `allowed here:` lists them. */
const SETTINGS = {
  name: text(NAME_RULE, NAME_PATTERN),
  toolchain: oneOf(TOOLCHAINS, "go"),
  runtime: oneOf(RUNTIMES, "native"),
  /** The plugins' Go module folders, relative to the project root; each builds a module envoy.yaml loads. */
  plugins: v.nullish(
    v.pipe(
      v.array(relativePath(), pluginList),
      v.minLength(1, pluginList),
      duplicates,
      v.transform((dirs) => dirs.map(folder)),
    ),
  ),
  /** The backend Envoy forwards to; absent when the project has none. */
  backend: v.nullish(
    mapping({
      /** Folder of the backend's Go module, relative to the project root. */
      dir: v.nullish(v.pipe(relativePath(), v.transform(folder)), "backend"),
      /** The envoy.yaml cluster it serves (default: "backend", or the only loopback one). */
      cluster: v.nullish(text()),
    }),
  ),
  /** More arguments for the plugin's compiler (`go build`, `tinygo build`, `cargo build`), e.g. build tags. */
  build: v.nullish(
    mapping({
      flags: v.nullish(v.array(text(), say("must be a list of the compiler's arguments, e.g. [-tags=mytag]"))),
    }),
  ),
  /** Requests `up` suggests after start (printed as curl lines against the plugin's listener). */
  try: v.nullish(v.array(TryRequestSchema, say("must be a list of requests, e.g. [{ path: /hello }]"))),
  envoy: v.nullish(
    mapping({
      /** Envoy's bootstrap config, relative to the project root. */
      config: v.nullish(relativePath(), "envoy.yaml"),
      /** An Envoy version to use (e.g. "1.40.0"); otherwise whatever is found. */
      version: v.nullish(text('an Envoy version such as "1.40.0" or "1.40"', /^\d+\.\d+(\.\d+)?$/)),
      /** An Envoy binary to use; beats `version`. */
      bin: v.nullish(text()),
      /** The image for runtime: docker (default: the official image of the Envoy version). */
      image: v.nullish(text()),
      logLevel: oneOf(LOG_LEVELS, "info"),
    }),
    {},
  ),
  /** envoywasm 0.1.0's form of plugins: (its dir still counts; envoy.yaml holds the rest now). */
  plugin: v.nullish(
    mapping({
      dir: v.nullish(relativePath(), "plugin"),
      wasm: v.optional(v.unknown()),
      rootId: v.optional(v.unknown()),
      vmId: v.optional(v.unknown()),
      config: v.optional(v.unknown()),
    }),
  ),
  /** envoywasm 0.1.0's ports (envoy.yaml holds them now). */
  ports: v.optional(v.unknown()),
};

const notAMapping = say("must be a YAML mapping of settings", "see `envoywasm init --help` for a fresh one");
const settings = v.strictObject(SETTINGS, notAMapping);

/** plugins: and 0.1.0's plugin: both written (an empty plugin: too). */
const oneForm = v.rawCheck<v.InferOutput<typeof settings>>(({ dataset, addIssue }) => {
  if (!dataset.typed || dataset.value.plugins === undefined || dataset.value.plugins === null || !("plugin" in dataset.value)) return;
  const { value } = dataset;
  addIssue({
    message: "is the 0.1.0 form of plugins:, which this file has too\ndelete plugin: and its settings",
    path: [{ type: "object", origin: "key", input: value, key: "plugin", value: value.plugin }],
  });
});

/** envoywasm.yaml as a project's settings: defaults filled in, unset ones left out, 0.1.0's plugin.dir read as plugins:. */
export const ProjectConfigSchema = v.pipe(
  v.custom<Record<string, unknown>>(isMapping, notAMapping),
  settings,
  oneForm,
  v.transform(({ plugin, ports: _ports, plugins, ...rest }) => ({ ...withoutUnset(rest), plugins: plugins ?? [plugin?.dir ?? "plugin"] })),
);
export type ProjectConfig = v.InferOutput<typeof ProjectConfigSchema>;
