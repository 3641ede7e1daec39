// The least a Node supervisor does, for figure 7b's baseline: a child whose
// output goes through a pipe into a log file, and a Unix socket that answers.
// No envoywasm code: what Node itself costs for that work.
import { spawn } from "node:child_process";
import { createWriteStream, rmSync } from "node:fs";
import net from "node:net";

const [log, socket] = process.argv.slice(2);
const out = createWriteStream(log, { flags: "a" });
const child = spawn("sh", ["-c", "while :; do echo tick; sleep 1; done"], { stdio: ["ignore", "pipe", "pipe"] });
child.stdout.on("data", (chunk) => out.write(chunk));
const server = net.createServer((c) => c.end("ok\n")).listen(socket);
const stop = () => {
  child.kill();
  server.close();
  rmSync(socket, { force: true });
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
