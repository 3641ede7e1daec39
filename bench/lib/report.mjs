// A figure's record in results.json, and the markdown table.
import { pairedRatios, round, summary } from "./stats.mjs";

/**
 * A figure from paired samples: subject[i] and baseline[i] were measured in
 * the same repetition. The goal is judged on the median (ratio, or value
 * when goal.on is "value"). `ratios`, when given, are the repetitions'
 * ratios as the measurement itself paired them, finer than per repetition.
 */
export function figure({ id, title, unit, subject, baseline, baselineName, goal, notes, tableNote, extra = {}, met, ratios: paired }) {
  const ratios = paired ?? pairedRatios(subject, baseline);
  const value = summary(subject);
  const ratio = summary(ratios);
  const judged = goal === undefined ? undefined : goal.on === "value" ? value.median : ratio.median;
  return {
    id,
    title,
    unit,
    repetitions: subject.length,
    value: { ...value, samples: subject.map((v) => round(v)) },
    baseline: { name: baselineName, ...summary(baseline), samples: baseline.map((v) => round(v)) },
    ratio: { ...ratio, samples: ratios.map((v) => round(v)) },
    goal: goal === undefined ? null : { text: goal.text, on: goal.on ?? "ratio", max: goal.max },
    met: met ?? (goal === undefined ? null : judged <= goal.max),
    ...extra,
    ...(notes === undefined ? {} : { notes }),
    ...(tableNote === undefined ? {} : { tableNote }),
  };
}

const fmt = (n, unit) => {
  if (n === null || n === undefined) return "–";
  if (unit === "ms") return `${n >= 100 ? Math.round(n) : n.toFixed(1)} ms`;
  if (unit === "s") return `${n.toFixed(2)} s`;
  if (unit === "MiB") return `${n.toFixed(1)} MiB`;
  if (unit === "req/s") return `${Math.round(n)} req/s`;
  if (unit === "×") return `${n.toFixed(2)}×`;
  if (unit === "µs" || unit === "KiB") return `${Math.round(n)} ${unit}`;
  return `${n} ${unit}`;
};

const ratioText = (r) => (r.median === null ? "–" : `${r.median.toFixed(2)}× (${r.min.toFixed(2)}–${r.max.toFixed(2)})`);

export function markdown(results) {
  const m = results.machine;
  const v = results.versions;
  const rows = results.figures.map((f) => {
    const met = f.met === null ? "–" : f.met ? "yes" : "**no**";
    return `| ${f.id} | ${f.title} | ${fmt(f.value.median, f.unit)} | ${f.baseline.name}: ${fmt(f.baseline.median, f.unit)} | ${ratioText(f.ratio)} | ${f.goal?.text ?? "–"} | ${met} | ${f.tableNote ?? ""} |`;
  });
  return [
    `Measured by \`npm run bench${results.mode === "quick" ? " -- --quick" : ""}\` on ${m.cpus} × ${m.model}, ${Math.round(m.memoryMiB / 1024)} GiB, ${m.os}; Node ${v.node}, ${v.go}, Envoy ${v.envoy}, envoywasm ${v.envoywasm}; ${results.startedAt.slice(0, 10)}.`,
    "Each row: medians over the repetitions; the ratio is envoywasm ÷ its baseline, taken per repetition (both measured back to back in the same run), as median (min–max). The goal is judged on the median.",
    "",
    "| # | what | envoywasm | baseline | ratio | goal | met | notes |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
    "",
  ].join("\n");
}
