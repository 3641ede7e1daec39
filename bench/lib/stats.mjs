// Medians and paired ratios. Every figure is a series of repetitions, each
// measuring the subject and its baseline back to back, so a ratio is taken
// per repetition (noise that hits both alike cancels out) and then summed up
// as median, min and max.

export function summary(values) {
  if (values.length === 0) return { median: null, min: null, max: null };
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median: round(median), min: round(s[0]), max: round(s[s.length - 1]) };
}

export function pairedRatios(subject, baseline) {
  return subject.map((v, i) => v / baseline[i]);
}

export function round(n, digits = 3) {
  if (n === null || n === undefined || !Number.isFinite(n)) return n;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
