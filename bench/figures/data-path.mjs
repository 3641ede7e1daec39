// 9. The data path per template: `envoywasm bench --json` sends the same load
// through three Envoys of its own in alternating rounds of about a second:
// without the Wasm filter, with the no-op filter of the project's toolchain
// (its SDK's default contexts: the floor every filter of that toolchain pays)
// and with the template's plugin. A run's ratio is bench's own: the median of
// its rounds' ratios. 9a–9c: each template against that floor; 9f: the floor
// (Go) against Envoy without a filter, from 9a's runs. Goals (issue 24): add-header
// ≥ 0.9× of the floor's requests/s, auth ≥ 0.85×; headers (it logs every header) recorded.
import { cli } from "../lib/project.mjs";
import { MeasureError } from "../lib/proc.mjs";
import { figure } from "../lib/report.mjs";
import { pairedRatios, summary } from "../lib/stats.mjs";

/** `envoywasm bench --json` n times; each result checked for load on all three Envoys. */
export async function benchRuns(ctx, project, label) {
  const runs = [];
  const n = ctx.reps.dataPath;
  for (let i = 0; i < n; i++) {
    ctx.progress(`data path, ${label}: run ${i + 1} of ${n} (${ctx.reps.dataPathS} s through each Envoy)`);
    runs.push(await benchOnce(ctx, project, label));
  }
  return runs;
}

export async function benchOnce(ctx, project, label) {
  const r = await cli(ctx, ["bench", "--json", "-d", String(ctx.reps.dataPathS)], project.dir);
  let result;
  try {
    result = JSON.parse(r.stdout);
  } catch {
    throw new MeasureError(`envoywasm bench --json printed no JSON: ${r.stdout.slice(0, 300)}`);
  }
  for (const side of ["baseline", "floor", "plugin"]) {
    if (!(result[side]?.requests > 0)) throw new MeasureError(`envoywasm bench sent no requests through ${side} (${label}): ${r.stdout.slice(0, 300)}`);
  }
  return result;
}

const failures = (runs) => runs.reduce((t, r) => t + ["baseline", "floor", "plugin"].reduce((s, k) => s + r[k].errors + r[k].non2xx, 0), 0);
export const us = (s) => `${s.median >= 0 ? "+" : "−"}${Math.abs(Math.round(s.median))} µs`;

/** A cost bench reported (`pluginCost`: the plugin over the floor; `floorCost`: the floor over no filter), over these runs (medians, min, max). */
export function costOf(runs, key) {
  const of = (f) => summary(runs.map((r) => f(r[key])).filter((v) => v !== undefined));
  return {
    rps: of((c) => c.rpsRatio),
    p50AddedUs: of((c) => c.latencyUs.p50),
    p99AddedUs: of((c) => c.latencyUs.p99),
    cpuAddedUsPerRequest: of((c) => c.cpuUsPerRequest),
  };
}

/** The plugin over no filter, which bench does not pair: its requests/s per run against the baseline's. */
function overNoFilter(runs) {
  return {
    rps: summary(
      pairedRatios(
        runs.map((r) => r.plugin.requestsPerSecond),
        runs.map((r) => r.baseline.requestsPerSecond),
      ),
    ),
    p50AddedUs: summary(runs.map((r) => r.plugin.latencyUs.p50 - r.baseline.latencyUs.p50)),
  };
}

export const cpuText = (c) => (c.cpuAddedUsPerRequest.median === null ? "" : `, Envoy's CPU ${us(c.cpuAddedUsPerRequest)} per request`);

/** The least share of the floor's requests/s a template should serve (a ratio from below: met when the median is at least this). */
const AT_LEAST = { "add-header": 0.9, auth: 0.85 };

export async function dataPath(ctx, project, id, floorId) {
  const runs = await benchRuns(ctx, project, project.template);
  const toolchain = runs[0].noopFilter.toolchain;
  const rps = (k) => runs.map((r) => r[k].requestsPerSecond);
  const overFloor = costOf(runs, "pluginCost");
  const overNone = overNoFilter(runs);
  const floor = costOf(runs, "floorCost");
  const failed = failures(runs);
  const shape = `\`envoywasm bench -d ${ctx.reps.dataPathS}\` (${runs[0].rounds} rounds), ${runs[0].connections} connections, log level ${runs[0].envoy.logLevel}, no access log`;
  const figures = [
    figure({
      id,
      title: `data path, \`${project.template}\` template (${toolchain}): requests/s through the filter, against the no-op ${toolchain} filter (${shape})`,
      unit: "req/s",
      subject: rps("plugin"),
      baseline: rps("floor"),
      baselineName: `no-op ${toolchain} filter (the floor)`,
      ratios: runs.map((r) => r.pluginCost.rpsRatio),
      ...goalFor(project.template, overFloor.rps.median),
      extra: { template: project.template, toolchain, sdk: runs[0].noopFilter.sdk, overFloor, overNoFilter: overNone, errorsAndNon2xx: failed },
      tableNote:
        `over the floor p50 ${us(overFloor.p50AddedUs)}, p99 ${us(overFloor.p99AddedUs)}${cpuText(overFloor)}; ` +
        `over no filter ${overNone.rps.median.toFixed(2)}× the requests/s, p50 ${us(overNone.p50AddedUs)}${failed === 0 ? "" : `; ${failed} errors or non-2xx`}`,
    }),
  ];
  if (floorId !== undefined) {
    figures.push(
      figure({
        id: floorId,
        title: `data path, the floor: the no-op ${toolchain} filter (${runs[0].noopFilter.sdk}, default contexts only), from ${id}'s runs`,
        unit: "req/s",
        subject: rps("floor"),
        baseline: rps("baseline"),
        baselineName: "same Envoy without a filter",
        ratios: runs.map((r) => r.floorCost.rpsRatio),
        extra: { toolchain, sdk: runs[0].noopFilter.sdk, floor },
        tableNote: `p50 ${us(floor.p50AddedUs)}, p99 ${us(floor.p99AddedUs)}${cpuText(floor)}`,
      }),
    );
  }
  return figures;
}

function goalFor(template, ratio) {
  const least = AT_LEAST[template];
  if (least === undefined) return {};
  return { goal: { text: `≥ ${least}×`, max: Infinity }, met: ratio >= least };
}
