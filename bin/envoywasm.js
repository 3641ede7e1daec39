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
const { main } = await import("../dist/cli.js");
const { flushed } = await import("../dist/ui/write.js");
const code = await main(process.argv);
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
