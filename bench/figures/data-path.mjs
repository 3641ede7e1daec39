// 9. The data path per template: `envoywasm bench --json` sends the same load
// through the project's listener and through the same Envoy without the Wasm
// filter (alternating rounds); its overhead ratios are recorded, no goal.
import { cli } from "../lib/project.mjs";
import { MeasureError } from "../lib/proc.mjs";
import { figure } from "../lib/report.mjs";
import { pairedRatios, summary } from "../lib/stats.mjs";

export async function dataPath(ctx, project, id) {
  const runs = [];
  const n = ctx.reps.dataPath;
  for (let i = 0; i < n; i++) {
    ctx.progress(`data path, ${project.template}: run ${i + 1} of ${n} (${ctx.reps.dataPathS} s a side)`);
    const r = await cli(ctx, ["bench", "--json", "-d", String(ctx.reps.dataPathS)], project.dir);
    let result;
    try {
      result = JSON.parse(r.stdout);
    } catch {
      throw new MeasureError(`envoywasm bench --json printed no JSON: ${r.stdout.slice(0, 300)}`);
    }
    if (!(result.withFilter?.requests > 0) || !(result.withoutFilter?.requests > 0)) {
      throw new MeasureError(`envoywasm bench sent no requests on one side (${project.template}): ${r.stdout.slice(0, 300)}`);
    }
    runs.push(result);
  }
  const side = (k) => runs.map((r) => r[k]);
  const w = side("withFilter");
  const wo = side("withoutFilter");
  const p50 = summary(
    pairedRatios(
      w.map((x) => x.latencyMs.p50),
      wo.map((x) => x.latencyMs.p50),
    ),
  );
  const p99 = summary(
    pairedRatios(
      w.map((x) => x.latencyMs.p99),
      wo.map((x) => x.latencyMs.p99),
    ),
  );
  const failures = w.concat(wo).reduce((t, x) => t + x.errors + x.non2xx, 0);
  const latency = (sideRuns, k) => summary(sideRuns.map((x) => x.latencyMs[k]));
  const withFilter = { requests: w.map((x) => x.requests), p50Ms: latency(w, "p50"), p99Ms: latency(w, "p99") };
  const withoutFilter = { requests: wo.map((x) => x.requests), p50Ms: latency(wo, "p50"), p99Ms: latency(wo, "p99") };
  return figure({
    id,
    title: `data path, \`${project.template}\` template: requests/s through the filter (\`envoywasm bench -d ${ctx.reps.dataPathS}\`, ${runs[0].connections} connections)`,
    unit: "req/s",
    subject: w.map((x) => x.rps),
    baseline: wo.map((x) => x.rps),
    baselineName: "same Envoy without the filter",
    extra: {
      template: project.template,
      withFilter,
      withoutFilter,
      overhead: {
        rps: summary(
          pairedRatios(
            w.map((x) => x.rps),
            wo.map((x) => x.rps),
          ),
        ),
        p50,
        p99,
      },
      errorsAndNon2xx: failures,
    },
    tableNote:
      `p50 ${withFilter.p50Ms.median} vs ${withoutFilter.p50Ms.median} ms (${p50.median.toFixed(2)}×), ` +
      `p99 ${withFilter.p99Ms.median} vs ${withoutFilter.p99Ms.median} ms (${p99.median.toFixed(2)}×)${failures === 0 ? "" : `; ${failures} errors or non-2xx`}`,
  });
}
