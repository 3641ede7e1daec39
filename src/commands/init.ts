import path from "node:path";
import { init, type InitOptions } from "../scaffold/init.js";
import type { WriteReport } from "../scaffold/write-plan.js";
import { TOOLCHAIN_TEXT } from "../scaffold/templates.js";
import { UsageError } from "../errors.js";
import { ui } from "../ui/output.js";
import { shellQuote } from "../platform/exec.js";

export async function runInit(dir: string, opts: Record<string, string | boolean | undefined>, globals: { cwd: string }): Promise<void> {
  const str = (k: string) => (typeof opts[k] === "string" ? (opts[k] as string) : undefined);
  const from = str("from");
  if (from === undefined && str("envoyConfig") !== undefined)
    throw new UsageError("--envoy-config goes with --from: it names the adopted folder's Envoy config");
  if (from !== undefined) {
    for (const k of ["template", "toolchain", "module"]) {
      if (str(k) !== undefined) throw new UsageError(`--${k} does not go with --from: the adopted plugin brings its own`);
    }
    return runAdopt(from, dir, opts, globals);
  }
  const options: InitOptions = { cwd: globals.cwd, dir, force: opts.force === true, yes: opts.yes === true };
  for (const key of ["name", "template", "toolchain", "listenerPort", "adminPort", "backendPort", "module"] as const) {
    const v = str(key);
    if (v !== undefined) options[key] = v;
  }
  if (ui.interactive && options.yes !== true) {
    const { inquirerPrompter } = await import("../ui/prompt.js");
    options.prompt = inquirerPrompter;
  }
  const result = await init(options);

  const rel = path.relative(globals.cwd, result.dir) || ".";
  const { answers } = result;
  ui.success(`created ${answers.name} (${answers.template} template, ${answers.toolchain} toolchain) in ${rel}`);
  listFiles(result.files);
  ui.result("");
  ui.result("Next:");
  if (rel !== ".") ui.result(`  cd ${shellQuote(rel)}`);
  ui.result("  envoywasm build     # compile plugin/ to a .wasm and check it");
  ui.result(`  envoywasm test      # ${TOOLCHAIN_TEXT[answers.toolchain].testSays}`);
  ui.result("  envoywasm up        # run Envoy + the plugin + the backend, with their logs; it prints requests to try (e2e/)");
  if (answers.toolchain === "tinygo") {
    ui.warn("the tinygo toolchain uses the archived github.com/tetratelabs/proxy-wasm-go-sdk; prefer --toolchain go for new plugins");
  }
}

function listFiles(files: WriteReport): void {
  for (const file of files.created) ui.result(`  ${ui.paintOut("green", "+")} ${file}`);
  for (const file of files.unchanged) ui.result(`  ${ui.paintOut("gray", "=")} ${file} (already there, unchanged)`);
  for (const file of files.kept)
    ui.result(`  ${ui.paintOut("yellow", "!")} ${file} (kept yours: it differs from what init would write, which was not written)`);
}

async function runAdopt(from: string, dir: string, opts: Record<string, string | boolean | undefined>, globals: { cwd: string }): Promise<void> {
  const { adopt } = await import("../scaffold/adopt.js");
  const str = (k: string) => (typeof opts[k] === "string" ? (opts[k] as string) : undefined);
  const result = await adopt({
    cwd: globals.cwd,
    from,
    dir,
    force: opts.force === true,
    onPhase: (p) => ui.info(ui.paint("gray", `• ${p}`)),
    envoyConfig: str("envoyConfig"),
    ...Object.fromEntries(["name", "listenerPort", "adminPort", "backendPort"].flatMap((k) => (str(k) === undefined ? [] : [[k, str(k)]]))),
  });
  const rel = path.relative(globals.cwd, result.dir) || ".";
  ui.success(
    `adopted ${path.relative(globals.cwd, path.resolve(globals.cwd, from)) || from} as ${result.name} (${result.toolchain} toolchain) in ${rel}; the original folder was not changed`,
  );
  for (const change of result.changes) ui.result(`  ~ ${change}`);
  listFiles(result.files);
  ui.result("");
  ui.result("Next:");
  if (rel !== ".") ui.result(`  cd ${shellQuote(rel)}`);
  ui.result("  envoywasm build && envoywasm test");
  ui.result(`  envoywasm up        # ${result.suggestsRequests ? "it prints requests to try (e2e/)" : "runs it, with its logs"}`);
}
