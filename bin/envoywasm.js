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
  // `build` is answered from the last good build's record when nothing changed, and for `build` and
  // `up` a changed plugin's compile starts here, before the CLI loads (dist/build-fast.js); `up -d`'s
  // background supervisor has an entry of its own: it loads only what supervising needs.
  const fast = (args[0] === "build" && args.length <= 3) || args[0] === "up" ? await import("../dist/build-fast.js") : undefined;
  const outcome = args[0] === "up" ? await fast?.earlyUp(args) : await fast?.fastBuild(args);
  let code = typeof outcome === "number" ? outcome : undefined;
  let entry = fast;
  if (code === undefined) {
    try {
      entry = args[0] === "__supervise" ? await import("../dist/supervisor.js") : await import("../dist/cli.js");
      if (args[0] === "__supervise") code = await entry.supervisorMain(args.slice(1));
      else if (args[0] === "__prepare-reload") code = await entry.prepareReloadMain(args.slice(1));
      else code = await entry.main(process.argv, outcome);
    } finally {
      // Whatever the build did not adopt is stopped and its output removed.
      await Promise.all((outcome?.early ?? []).map((compile) => compile.discard()));
    }
  }
  await Promise.all([entry.flushed(process.stdout), entry.flushed(process.stderr)]);
  process.exit(code);
}
