// 11. `envoywasm test --e2e` with 20 cases on one Envoy, against what the same
// work costs by hand with `up`: `up -d` to the first 200, the 20 requests one
// after another through that Envoy, and half a second (the allowance).
import { renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { get, waitFor200, waitPortsFree } from "../lib/net.mjs";
import { cli, down, upDetached } from "../lib/project.mjs";
import { MeasureError } from "../lib/proc.mjs";
import { figure } from "../lib/report.mjs";

const CASES = 20;

/** Twenty cases of the add-header template's kind, each its own request (the template's own case file set aside). */
function writeCases(project) {
  renameSync(path.join(project.dir, "e2e", "add-header.yaml"), path.join(project.dir, "e2e", "add-header.yaml.aside"));
  const cases = Array.from({ length: CASES }, (_, i) =>
    [
      `  - name: request ${i + 1} gets the header`,
      "    request:",
      `      path: /hello/${i + 1}`,
      "    expect:",
      "      status: 200",
      "      headers:",
      '        "{config.header}": "{config.value}"',
    ].join("\n"),
  );
  writeFileSync(path.join(project.dir, "e2e", "bench.yaml"), `cases:\n${cases.join("\n")}\n`);
}

async function byHand(ctx, project) {
  const started = performance.now();
  await upDetached(ctx, project);
  const ready = await waitFor200(project.ports.listener, "/hello", { what: "Envoy after `envoywasm up -d`" });
  const requestsFrom = performance.now();
  for (let i = 1; i <= CASES; i++) {
    const r = await get(project.ports.listener, `/hello/${i}`);
    if (r?.status !== 200) throw new MeasureError(`request ${i} through up's Envoy answered ${r?.status ?? "nothing"}`);
  }
  const requestsMs = performance.now() - requestsFrom;
  await down(ctx, project);
  await waitPortsFree(Object.values(project.ports));
  return { startMs: ready - started, requestsMs, ms: ready - started + requestsMs + 500 };
}

async function e2eRun(ctx, project) {
  const started = performance.now();
  const r = await cli(ctx, ["test", "--e2e", "--json"], project.dir);
  const ms = performance.now() - started;
  const result = JSON.parse(r.stdout);
  if (result.passed !== CASES || result.failed !== 0)
    throw new MeasureError(`envoywasm test --e2e: ${result.passed} passed, ${result.failed} failed of ${CASES}`);
  return ms;
}

export async function e2e(ctx, project) {
  writeCases(project);
  await cli(ctx, ["build"], project.dir);
  if (ctx.mode !== "smoke") await e2eRun(ctx, project); // warm: Envoy's files in the OS's cache
  const n = ctx.reps.up;
  const ours = [];
  const hand = [];
  const parts = [];
  for (let i = 0; i < n; i++) {
    ctx.progress(`e2e, ${CASES} cases: repetition ${i + 1} of ${n}`);
    const steps = [
      async () => ours.push(await e2eRun(ctx, project)),
      async () => {
        const h = await byHand(ctx, project);
        hand.push(h.ms);
        parts.push(h);
      },
    ];
    for (const step of i % 2 === 0 ? steps : steps.reverse()) await step();
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return [
    figure({
      id: "11",
      title: `\`envoywasm test --e2e\`, ${CASES} cases on one Envoy`,
      unit: "ms",
      subject: ours,
      baseline: hand,
      baselineName: `\`up -d\` to the first 200 + the ${CASES} requests through it + 0.5 s`,
      goal: { text: "≤ 1×", max: 1 },
      tableNote: `\`up -d\` start ${Math.round(median(parts.map((p) => p.startMs)))} ms, ${CASES} requests ${Math.round(median(parts.map((p) => p.requestsMs)))} ms`,
    }),
  ];
}
