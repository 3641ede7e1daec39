#!/usr/bin/env node
// argv → main() → exit code. The process ends once stdout and stderr have
// handed over every byte (a pipe may take longer than the work); a reader that
// goes away early (`| head`) ends it quietly. `up -d`'s background supervisor
// has an entry of its own, so the process that stays up loads only supervising.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
}
const entry = process.argv[2] === "__supervise" ? await import("../dist/supervisor.js") : await import("../dist/cli.js");
const code = await entry.main(process.argv);
await Promise.all([entry.flushed(process.stdout), entry.flushed(process.stderr)]);
process.exit(code);
