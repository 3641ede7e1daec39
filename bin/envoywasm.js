#!/usr/bin/env node
// The only place that ends the process: the CLI returns an exit code, and the
// process ends once stdout and stderr have handed over every byte (a pipe
// may take longer than the work). A reader that goes away early (`| head`)
// ends it quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
}
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  // Asked often (scripts, editors): answered without loading the CLI.
  const { readFileSync } = await import("node:fs");
  process.stdout.write(`${JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version}\n`);
} else {
  // `build` with nothing changed since the last good build is answered from its record, without the CLI;
  // `up -d`'s background supervisor has an entry of its own: it loads only what supervising needs.
  const fast = args[0] === "build" && args.length <= 2 ? await import("../dist/build-fast.js") : undefined;
  let code = await fast?.fastBuild(args);
  let entry = fast;
  if (code === undefined) {
    entry = args[0] === "__supervise" ? await import("../dist/supervisor.js") : await import("../dist/cli.js");
    code = args[0] === "__supervise" ? await entry.supervisorMain(args.slice(1)) : await entry.main(process.argv);
  }
  await Promise.all([entry.flushed(process.stdout), entry.flushed(process.stderr)]);
  process.exit(code);
}
