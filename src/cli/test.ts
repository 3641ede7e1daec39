import { testPlugin } from "../commands/test.js";
import { ui } from "../ui/output.js";
import { runBuild } from "./build.js";

export async function runTest(opts: { run?: string; goVerbose?: boolean }, globals: { cwd: string }): Promise<void> {
  await runBuild({ quiet: true }, globals);
  const result = await testPlugin({ cwd: globals.cwd, ...(opts.run === undefined ? {} : { run: opts.run }), verbose: opts.goVerbose === true });
  if (result.exitCode === 0) ui.success("plugin tests passed");
  else ui.info(ui.paint("red", `go test failed (exit ${result.exitCode})`));
  process.exitCode = result.exitCode;
}
