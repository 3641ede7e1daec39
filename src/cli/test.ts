import { testPlugins } from "../commands/test.js";
import { UserError } from "../errors.js";
import { ui } from "../ui/output.js";
import { runBuild } from "./build.js";

export async function runTest(opts: { run?: string; goVerbose?: boolean }, globals: { cwd: string }): Promise<void> {
  await runBuild({ quiet: true }, globals);
  const result = await testPlugins({
    cwd: globals.cwd,
    ...(opts.run === undefined ? {} : { run: opts.run }),
    verbose: opts.goVerbose === true,
    onOutput: (text) => process.stdout.write(text),
  });
  for (const placed of result.placed) ui.debug(`put the built module at ${placed} for the tests that read it there`);
  const counts = `${result.passed} passed, ${result.failed.length} failed, ${result.skipped.length} skipped`;
  for (const s of result.skipped) ui.warn(`skipped ${s.name} (${s.plugin}/): ${s.reason}`);
  if (result.failed.length > 0 || result.exitCode !== 0) {
    const names = result.failed.map((t) => t.name).join(", ");
    throw new UserError(`plugin tests failed: ${counts}${names === "" ? "" : ` (${names})`}`, {
      hint: result.failed.length === 0 ? "go test failed before running the tests; its output is above" : "the failing tests' output is above",
    });
  }
  if (result.passed + result.skipped.length === 0) {
    throw new UserError("no plugin tests ran", { hint: opts.run === undefined ? "add tests (*_test.go) next to the plugin" : `no test matches --run ${opts.run}` });
  }
  if (result.skipped.length > 0) ui.warn(`plugin tests: ${counts}; the skipped ones did not run`);
  else ui.success(`plugin tests: ${counts}`);
}
