import { bench, type BenchResult, type LoadResult } from "../run/bench.js";
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
  const rows: [string, LoadResult][] = [
    ["with the filter", r.withFilter],
    ["without it", r.withoutFilter],
  ];
  ui.result(`${r.url}: ${r.connections} connections, ${r.durationS} s each way, in alternating rounds`);
  ui.result("");
  ui.result(
    `${"".padEnd(16)}  ${"req/s".padStart(8)}  ${"p50 ms".padStart(8)}  ${"p90 ms".padStart(8)}  ${"p99 ms".padStart(8)}  ${"errors".padStart(6)}  ${"non-2xx".padStart(7)}`,
  );
  for (const [name, l] of rows) {
    ui.result(
      `${name.padEnd(16)}  ${String(l.rps).padStart(8)}  ${l.latencyMs.p50.toFixed(3).padStart(8)}  ${l.latencyMs.p90.toFixed(3).padStart(8)}  ${l.latencyMs.p99.toFixed(3).padStart(8)}  ${String(l.errors).padStart(6)}  ${String(l.non2xx).padStart(7)}`,
    );
  }
  ui.result("");
  ui.result(
    `the filter costs: ${pct(1 - r.overhead.rps)} of the requests per second; p50 latency ×${r.overhead.p50.toFixed(2)}, p99 ×${r.overhead.p99.toFixed(2)}`,
  );
  ui.result("");
  ui.result("latency with the filter:");
  const max = Math.max(...r.withFilter.histogram.map((b) => b.count), 1);
  let lower = 0;
  for (const b of r.withFilter.histogram) {
    if (b.count > 0) {
      const label = b.upToMs === null ? `≥ ${lower} ms` : `${lower}-${b.upToMs} ms`;
      ui.result(`  ${label.padEnd(12)} ${"█".repeat(Math.max(1, Math.round((b.count / max) * 40)))} ${b.count}`);
    }
    lower = b.upToMs ?? lower;
  }
  const mb = (n: number | undefined) => (n === undefined ? "?" : `${(n / 1024 / 1024).toFixed(1)} MiB`);
  const { before, after } = r.memory;
  ui.result("");
  ui.result(
    `Envoy memory: allocated ${mb(before.allocated)} → ${mb(after.allocated)}, resident ${mb(before.rss)} → ${mb(after.rss)}; Wasm VMs ${before.wasmVms ?? "?"} → ${after.wasmVms ?? "?"}`,
  );
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
  if (r.startedRun) ui.info(ui.paint("gray", "(bench started the project for the measurement and stopped it again)"));
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}
