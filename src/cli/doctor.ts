import { doctor } from "../commands/doctor.js";
import { UserError } from "../errors.js";
import { ui } from "../ui/output.js";

const MARK = { ok: "✔", warn: "!", fail: "✖", skip: "-" } as const;
const COLOUR = { ok: "green", warn: "yellow", fail: "red", skip: "gray" } as const;

export async function runDoctor(opts: { json?: boolean; envoy?: string }, globals: { cwd: string }): Promise<void> {
  const result = await doctor({ cwd: globals.cwd, ...(opts.envoy === undefined ? {} : { envoy: opts.envoy }) });
  if (opts.json === true) {
    ui.resultJson(result);
    if (!result.ok) process.exitCode = 1;
    return;
  }
  const width = Math.max(...result.checks.map((c) => c.name.length));
  for (const c of result.checks) {
    ui.result(`${ui.paintOut(COLOUR[c.status], MARK[c.status])} ${c.name.padEnd(width)}  ${c.detail}`);
    if (c.fix !== undefined && c.status !== "ok") ui.result(`  ${" ".repeat(width)}  → ${c.fix}`);
  }
  if (!result.ok) {
    const failed = result.checks.filter((c) => c.status === "fail").map((c) => c.name);
    throw new UserError(`${failed.length} check(s) failed: ${failed.join(", ")}`, { hint: "each says what to do above" });
  }
}
