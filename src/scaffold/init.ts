import { realpathSync } from "node:fs";
import path from "node:path";
import { UsageError } from "../errors.js";
import { NAME_PATTERN, NAME_RULE, TOOLCHAINS, type Toolchain } from "../project/config.js";
import { DEFAULT_TEMPLATE, findTemplate, lockedCrates, render, SDK_MODULES, TEMPLATES, TOOLCHAIN_TEXT } from "./templates.js";
import { BlockText, MODULE_PATH, type TemplateValues } from "./render-text.js";
import { writePlan, type WriteReport } from "./write-plan.js";
import type { Prompter as PromptFn, Question as PromptQuestion } from "../ui/prompt.js";
import { DEFAULT_PORTS } from "../envoy/default-ports.js";

export interface InitOptions {
  cwd: string;
  dir?: string;
  name?: string;
  template?: string;
  toolchain?: string;
  listenerPort?: string;
  adminPort?: string;
  backendPort?: string;
  module?: string;
  force?: boolean;
  /** Take defaults for everything not given as a flag. */
  yes?: boolean;
  /** Asks for the missing answers; only given when a person is at a terminal. */
  prompt?: Prompter;
}

export interface Answers {
  name: string;
  template: string;
  toolchain: Toolchain;
  listenerPort: number;
  adminPort: number;
  backendPort: number;
  module: string;
}

export type Prompter = PromptFn<keyof Answers>;
export type Question = PromptQuestion<keyof Answers>;

export interface InitResult {
  dir: string;
  answers: Answers;
  files: WriteReport;
}

const PLUGIN_DIR = "plugin";
const BACKEND_DIR = "backend";

export async function init(options: InitOptions): Promise<InitResult> {
  const dir = path.resolve(options.cwd, options.dir ?? ".");
  const answers = await gatherAnswers(options, dir);
  if (answers.toolchain === "rust") {
    const crate = (name: string) => name.replaceAll("-", "_");
    const taken = (await lockedCrates()).find((c) => crate(c) === crate(answers.name));
    if (taken !== undefined) {
      throw new UsageError(
        `the project name ${answers.name} is the crate ${taken}'s, which the plugin depends on: a rust plugin's crate takes the project's name, and cargo cannot build two crates of one name side by side`,
        {
          hint: `pick another name with --name (e.g. ${answers.name}-plugin)`,
        },
      );
    }
  }
  const values = templateValues(answers);
  const files = await render({
    template: answers.template,
    toolchain: answers.toolchain,
    values,
    pluginDir: PLUGIN_DIR,
    backendDir: BACKEND_DIR,
  });
  const report = await writePlan(dir, files, options.force === true);
  return { dir, answers, files: report };
}

/** Flags first; then, only at a terminal and without --yes, questions; then defaults. */
async function gatherAnswers(options: InitOptions, dir: string): Promise<Answers> {
  const given: Partial<Record<keyof Answers, string>> = {
    name: options.name,
    template: options.template,
    toolchain: options.toolchain,
    listenerPort: options.listenerPort,
    adminPort: options.adminPort,
    backendPort: options.backendPort,
    module: options.module,
  };
  for (const [key, value] of Object.entries(given)) {
    if (value === undefined) continue;
    const check = validators[key as keyof Answers](value, {});
    if (check !== true) throw new UsageError(`--${flagName(key as keyof Answers)} ${JSON.stringify(value)}: ${check}`);
  }

  const defaultName = nameFromDir(dir);
  if (given.name === undefined && defaultName === undefined && (options.yes === true || options.prompt === undefined)) {
    throw new UsageError(`cannot make a project name from the folder name ${JSON.stringify(path.basename(dir))}`, {
      hint: `pass --name <name> (${NAME_RULE})`,
    });
  }

  checkPortClash(given);
  if (options.prompt !== undefined && options.yes !== true) {
    const questions = buildQuestions(given, defaultName);
    if (questions.length > 0) Object.assign(given, await options.prompt(questions, { ...given }));
  }

  if (given.toolchain === "rust" && options.module !== undefined) {
    throw new UsageError("--module names a Go module, and a rust plugin is a Cargo package: its crate is named after the project (--name)");
  }
  const name = given.name ?? defaultName!;
  return {
    name,
    template: given.template ?? DEFAULT_TEMPLATE,
    toolchain: (given.toolchain ?? "go") as Toolchain,
    listenerPort: Number(given.listenerPort ?? DEFAULT_PORTS.listener),
    adminPort: Number(given.adminPort ?? DEFAULT_PORTS.admin),
    backendPort: Number(given.backendPort ?? DEFAULT_PORTS.backend),
    module: given.module ?? defaultModule(name),
  };
}

function buildQuestions(given: Partial<Record<keyof Answers, string>>, defaultName: string | undefined): Question[] {
  const all: Question[] = [
    { key: "name", message: "Project name", default: defaultName ?? "my-plugin", validate: validators.name },
    {
      key: "template",
      message: "Template",
      default: DEFAULT_TEMPLATE,
      choices: TEMPLATES.map((t) => ({ value: t.name, description: t.summary })),
      validate: validators.template,
    },
    {
      key: "toolchain",
      message: "Toolchain",
      default: "go",
      choices: [
        { value: "go", description: "Go >= 1.24 (wasip1, maintained proxy-wasm SDK)" },
        { value: "tinygo", description: "TinyGo (archived tetratelabs SDK)" },
        { value: "rust", description: "Rust with cargo (wasm32-wasip1, the proxy-wasm crate)" },
      ],
      validate: validators.toolchain,
    },
    { key: "listenerPort", message: "Listener port", default: String(DEFAULT_PORTS.listener), validate: validators.listenerPort },
    { key: "adminPort", message: "Envoy admin port", default: String(DEFAULT_PORTS.admin), validate: validators.adminPort },
    { key: "backendPort", message: "Backend port", default: String(DEFAULT_PORTS.backend), validate: validators.backendPort },
  ];
  return all.filter((q) => given[q.key] === undefined);
}

const PORT_KEYS = ["listenerPort", "adminPort", "backendPort"] as const;

/** A port: a number, and not one the other two already use (so a clash is caught at its question). */
const validatePort =
  (key: (typeof PORT_KEYS)[number]) =>
  (value: string, soFar: Partial<Record<keyof Answers, string>>): string | true => {
    if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 65535) return "must be a port number from 1 to 65535";
    for (const other of PORT_KEYS) {
      if (other !== key && soFar[other] !== undefined && Number(soFar[other]) === Number(value)) {
        return `${value} is already the ${other.replace("Port", "")} port; each port needs its own number`;
      }
    }
    return true;
  };

/** Ports given as flags must differ from each other. */
function checkPortClash(given: Partial<Record<keyof Answers, string>>): void {
  for (const key of PORT_KEYS) {
    const value = given[key];
    if (value === undefined) continue;
    const check = validatePort(key)(value, given);
    if (check !== true) throw new UsageError(`--${flagName(key)} ${value}: ${check}`);
  }
}

const validators: Record<keyof Answers, (value: string, soFar: Partial<Record<keyof Answers, string>>) => string | true> = {
  name: (v) => (NAME_PATTERN.test(v) && v.length <= 63 ? true : `must be ${NAME_RULE}, at most 63 characters`),
  template: (v) => (findTemplate(v) !== undefined ? true : `unknown template; choose one of ${TEMPLATES.map((t) => t.name).join(", ")}`),
  toolchain: (v) => ((TOOLCHAINS as readonly string[]).includes(v) ? true : `must be one of ${TOOLCHAINS.join(", ")}`),
  listenerPort: validatePort("listenerPort"),
  adminPort: validatePort("adminPort"),
  backendPort: validatePort("backendPort"),
  module: (v) => (MODULE_PATH.test(v) ? true : "is not a Go module path (e.g. github.com/you/my-plugin)"),
};

function flagName(key: keyof Answers): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The folder's name, if it is a valid project name as it is or in lower case. */
function nameFromDir(dir: string): string | undefined {
  let base = path.basename(dir);
  try {
    base = path.basename(realpathSync(dir));
  } catch {
    // The folder does not exist yet; its name is what we have.
  }
  const candidate = base.toLowerCase().replace(/[_ .]+/g, "-");
  return NAME_PATTERN.test(candidate) && candidate.length <= 63 ? candidate : undefined;
}

function defaultModule(name: string): string {
  return `example.com/${name}/plugin`;
}

/** The placeholder values a project's templates are rendered with. */
export function templateValues(a: Answers): TemplateValues {
  const ports = new Map<number, string>();
  for (const key of ["listenerPort", "adminPort", "backendPort"] as const) {
    const clash = ports.get(a[key]);
    if (clash !== undefined) {
      const label = (k: string) => k.replace("Port", "");
      throw new UsageError(`the ${label(clash)} and ${label(key)} ports are both ${a[key]}`, {
        hint: "give the listener, admin and backend ports different numbers",
      });
    }
    ports.set(a[key], key);
  }
  const template = findTemplate(a.template)!;
  const wasmPath = `build/${a.name}.wasm`;
  const text = TOOLCHAIN_TEXT[a.toolchain];
  return {
    pluginName: a.name,
    // A project name is a valid crate name as it is (lowercase letters, digits, dashes).
    crateName: a.name,
    language: text.language,
    pluginFiles: text.pluginFiles,
    testSays: text.testSays,
    configReader: text.configReader,
    toolchainNeeds: text.needs,
    rootId: a.name,
    vmId: a.name,
    toolchain: a.toolchain,
    template: a.template,
    pluginModule: a.module,
    sdkModule: SDK_MODULES[a.toolchain],
    backendModule: `${a.module.replace(/\/plugin$/, "")}/backend`,
    pluginDir: PLUGIN_DIR,
    backendDir: BACKEND_DIR,
    wasmPath,
    pluginConfigBlock: new BlockText(JSON.stringify(template.pluginConfig(a.name), null, 2)),
    listenerPort: a.listenerPort,
    adminPort: a.adminPort,
    backendPort: a.backendPort,
  };
}
