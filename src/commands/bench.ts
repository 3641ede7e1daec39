import { bench, type BenchResult, type Cost, type EnvoyResult, type Variant } from "../run/bench/bench.js";
import { UsageError } from "../errors.js";
import { ui } from "../ui/output.js";

export interface BenchFlags {
  duration: number;
  connections: number;
  rate?: number;
  method: string;
  path?: string;
  header?: string[];
  body?: string;
  json?: boolean;
}

export async function runBench(flags: BenchFlags, globals: { cwd: string }): Promise<void> {
  const headers: Record<string, string> = {};
  for (const h of flags.header ?? []) {
    const colon = h.indexOf(":");
    if (colon <= 0) throw new UsageError(`--header ${JSON.stringify(h)}: use name: value`);
    headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
  }
  const result = await bench({
    cwd: globals.cwd,
    durationS: flags.duration,
    connections: flags.connections,
    method: flags.method.toUpperCase(),
    headers,
    rate: flags.rate,
    path: flags.path,
    body: flags.body,
    onPhase: (p) => ui.info(ui.paint("gray", `• ${p}`)),
  });
  if (flags.json === true) {
    ui.resultJson(result);
    return;
  }
  render(result);
}

function render(r: BenchResult): void {
  const names: Record<Variant, string> = { baseline: "no Wasm filter", floor: `no-op ${r.noopFilter.toolchain} filter`, plugin: "the plugin" };
  const rows: Variant[] = ["baseline", "floor", "plugin"];
  ui.result(`${r.method} ${r.path}: ${r.connections} connections, ${r.durationS} s through each Envoy, in ${r.rounds} alternating rounds`);
  ui.result(`Envoy ${r.envoy.version} as in production: log level ${r.envoy.logLevel} (the plugin's too), no access log, concurrency ${r.envoy.concurrency}`);
  ui.result("");
  ui.result(
    `${"".padEnd(18)}  ${"req/s".padStart(8)}  ${"p50 µs".padStart(8)}  ${"p90 µs".padStart(8)}  ${"p99 µs".padStart(8)}  ${"errors".padStart(6)}  ${"non-2xx".padStart(7)}  ${"CPU µs/req".padStart(10)}`,
  );
  for (const v of rows) {
    const l = r[v];
    ui.result(
      `${names[v].padEnd(18)}  ${String(l.requestsPerSecond).padStart(8)}  ${String(l.latencyUs.p50).padStart(8)}  ${String(l.latencyUs.p90).padStart(8)}  ${String(l.latencyUs.p99).padStart(8)}  ${String(l.errors).padStart(6)}  ${String(l.non2xx).padStart(7)}  ${String(l.cpuUsPerRequest ?? "–").padStart(10)}`,
    );
  }
  ui.result("");
  ui.result(`the no-op filter over no filter (the floor; ${r.noopFilter.sdk}): ${costText(r.floorCost)}`);
  ui.result(`the plugin over the no-op filter (its own work): ${costText(r.pluginCost)}`);
  ui.result("");
  ui.result("latency with the plugin:");
  const max = Math.max(...r.plugin.histogram.map((b) => b.count), 1);
  let lower = 0;
  for (const b of r.plugin.histogram) {
    if (b.count > 0) {
      const label = b.upToMs === null ? `≥ ${lower} ms` : `${lower}-${b.upToMs} ms`;
      ui.result(`  ${label.padEnd(12)} ${"█".repeat(Math.max(1, Math.round((b.count / max) * 40)))} ${b.count}`);
    }
    lower = b.upToMs ?? lower;
  }
  ui.result("");
  ui.result("memory before → after the load: Envoy's allocated, its resident; Wasm VMs");
  for (const v of rows) ui.result(`  ${names[v].padEnd(18)}  ${memoryText(r[v])}`);
  const { before, after } = r.plugin.memory;
  if (
    before.allocated !== undefined &&
    after.allocated !== undefined &&
    after.allocated > before.allocated * 1.5 &&
    after.allocated - before.allocated > 8 * 1024 * 1024
  ) {
    ui.warn(
      "Envoy's allocated memory grew by half or more during the load: a plugin that keeps what it allocates per request (a leak) looks like this; run bench longer to see whether it keeps growing",
    );
  }
}

function costText(c: Cost): string {
  const us = (n: number) => `${n >= 0 ? "+" : "−"}${Math.abs(n)} µs`;
  const change = (c.rpsRatio - 1) * 100;
  const cpu = c.cpuUsPerRequest === undefined ? "" : `; Envoy's CPU ${us(c.cpuUsPerRequest)} per request`;
  return `requests/s ${change >= 0 ? "+" : "−"}${Math.abs(change).toFixed(1)}% (×${c.rpsRatio.toFixed(2)}); latency ${us(c.latencyUs.p50)} at p50, ${us(c.latencyUs.p90)} at p90, ${us(c.latencyUs.p99)} at p99${cpu}`;
}

function memoryText(r: EnvoyResult): string {
  const mb = (n: number | undefined) => (n === undefined ? "?" : (n / 1024 / 1024).toFixed(1));
  const { before, after } = r.memory;
  return `${mb(before.allocated)} → ${mb(after.allocated)} MiB, ${mb(before.rss)} → ${mb(after.rss)} MiB; ${before.wasmVms ?? "–"} → ${after.wasmVms ?? "–"}`;
}
