// The least a Node supervisor does, for figure 7's baselines: children whose
// output goes through a pipe into log files, and a Unix socket that answers.
// No envoywasm code: what Node itself costs for that work.
//   least-supervisor.mjs <socket> <out-dir> [file ...]
// With files, one child per file follows it (`tail -n 0 -F`), so this process
// carries the same lines as the supervisor that writes them, as they come;
// without, one child prints a line a second.
import { spawn } from "node:child_process";
import { createWriteStream, rmSync } from "node:fs";
import net from "node:net";
import path from "node:path";

const [socket, outDir, ...files] = process.argv.slice(2);
const children = (
  files.length === 0 ? [["tick.log", "sh", ["-c", "while :; do echo tick; sleep 1; done"]]] : files.map((f) => [path.basename(f), "tail", ["-n", "0", "-F", f]])
).map(([name, command, args]) => {
  const out = createWriteStream(path.join(outDir, name), { flags: "a" });
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.on("data", (chunk) => out.write(chunk));
  child.stderr.on("data", (chunk) => out.write(chunk));
  return child;
});
const server = net.createServer((c) => c.end("ok\n")).listen(socket);
const stop = () => {
  for (const child of children) child.kill();
  server.close();
  rmSync(socket, { force: true });
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
