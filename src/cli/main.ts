import type { CommanderError as CommanderErrorClass } from "commander";
import { PACKAGE_VERSION } from "../platform/package-root.js";

export { flushed } from "../ui/write.js";

/** Runs the CLI (bin/envoywasm.js); returns the exit code. Never throws. */
export async function main(argv: readonly string[]): Promise<number> {
  if (argv[2] === "__prepare-reload") return (await import("../run/reload/prepare.js")).prepareReloadMain(argv.slice(3));
  // Asked often (scripts, editors): answered before commander and the wiring load.
  if (argv.length === 3 && (argv[2] === "--version" || argv[2] === "-V")) {
    process.stdout.write(`${PACKAGE_VERSION}\n`);
    return 0;
  }
  const { buildProgram, CommanderError } = await import("./program.js");
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    return await report(error, argv.includes("--json"), CommanderError);
  }
}

/**
 * Renders a failure: `error:` and `hint:` on stderr (a stack only with
 * --verbose), and, for a command given --json, the same as JSON on stdout.
 * Exit codes: 0 ok, 1 failure, 2 wrong command line, 70 internal error,
 * 130/143 interrupted.
 */
async function report(error: unknown, json: boolean, commanderError: typeof CommanderErrorClass): Promise<number> {
  const [{ isEnvoywasmError }, { ui }] = await Promise.all([import("../errors.js"), import("../ui/output.js")]);
  if (error instanceof commanderError) {
    // commander printed its own message; help and --version are not failures.
    if (error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.exitCode === 0) return 0;
    if (json) ui.resultJson({ error: error.message.replace(/^error: /, ""), exitCode: 2 });
    return 2;
  }
  const code = isEnvoywasmError(error) ? error.exitCode : 70;
  if (json || ui.json) {
    const message = error instanceof Error ? error.message : String(error);
    const hint = isEnvoywasmError(error) ? error.hint : undefined;
    ui.resultJson({ error: isEnvoywasmError(error) ? message : `internal error: ${message}`, hint, exitCode: code });
  }
  if (isEnvoywasmError(error)) {
    if (!(error.name === "CancelledError")) process.stderr.write(`${ui.paint("red", "error:")} ${error.message}\n`);
    if (error.hint !== undefined) process.stderr.write(`${ui.paint("cyan", "hint:")} ${error.hint}\n`);
  } else {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${ui.paint("red", "error:")} internal error: ${message}\n`);
    if (!ui.verbose) process.stderr.write(`${ui.paint("cyan", "hint:")} run again with --verbose for details\n`);
  }
  if (ui.verbose && error instanceof Error && error.stack !== undefined) {
    process.stderr.write(`${ui.paint("gray", error.stack)}\n`);
  }
  return code;
}
