import path from "node:path";
import { init, type InitOptions } from "../commands/init.js";
import { ui } from "../ui/output.js";

export async function runInit(
  dir: string,
  opts: Record<string, string | boolean | undefined>,
  globals: { cwd: string },
): Promise<void> {
  const str = (k: string) => (typeof opts[k] === "string" ? (opts[k] as string) : undefined);
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
  for (const file of result.files.created) ui.result(`  ${ui.paintOut("green", "+")} ${file}`);
  for (const file of result.files.overwritten) ui.result(`  ${ui.paintOut("yellow", "~")} ${file} (overwritten)`);
  ui.result("");
  ui.result("Next:");
  if (rel !== ".") ui.result(`  cd ${rel}`);
  ui.result("  envoywasm build     # compile plugin/ to a .wasm and check it");
  ui.result("  envoywasm test      # run the plugin's Go tests, natively and against the .wasm");
  ui.result("  envoywasm up        # run Envoy + the plugin + the backend, with their logs");
  ui.result(`  curl -i http://127.0.0.1:${answers.listenerPort}/hello`);
  if (answers.toolchain === "tinygo") {
    ui.warn("the tinygo toolchain uses the archived github.com/tetratelabs/proxy-wasm-go-sdk; prefer --toolchain go for new plugins");
  }
}
