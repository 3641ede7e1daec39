// What the figures were measured on.
import { readFileSync } from "node:fs";
import os from "node:os";
import { REPO } from "./project.mjs";
import { timed } from "./proc.mjs";

export function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    model: cpus[0]?.model.trim() ?? "unknown",
    memoryMiB: Math.round(os.totalmem() / 2 ** 20),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

export async function versions(ctx) {
  const go = await timed("go", ["version"], { env: ctx.env });
  const pkg = JSON.parse(readFileSync(new URL("package.json", `file://${REPO}`), "utf8"));
  const rev = await timed("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO, allowFail: true }).catch(() => undefined);
  const dirty = await timed("git", ["status", "--porcelain", "--", "src", "bin"], { cwd: REPO, allowFail: true }).catch(() => undefined);
  return {
    node: process.version,
    go: /go version (\S+)/.exec(go.stdout)?.[1] ?? go.stdout.trim(),
    envoy: ctx.envoy.version,
    envoywasm: `${pkg.version}${rev?.code === 0 ? ` (${rev.stdout.trim()}${dirty?.stdout.trim() ? ", with uncommitted changes" : ""})` : ""}`,
  };
}
