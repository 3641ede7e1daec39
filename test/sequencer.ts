import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The longest files first, so the run does not end on one long file started
 * late (vitest orders by the durations it cached, which a fresh clone does
 * not have). The order is from measured runs; files not named here follow in
 * vitest's own order.
 */
const LONGEST_FIRST = [
  "integration/bench-suite",
  "integration/docker",
  "integration/up-foreground",
  "integration/up.",
  "integration/reload",
  "integration/rust",
  "integration/project-model",
  "faults/faults",
  "integration/plugin-tests",
  "integration/build",
  "integration/bench.",
  "integration/ship",
  "integration/adopt",
  "faults/docker-engine",
  "integration/envoy",
];

export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rest = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = LONGEST_FIRST.findIndex((name) => f.moduleId.replaceAll("\\", "/").includes(`/test/${name}`));
      return i < 0 ? LONGEST_FIRST.length : i;
    };
    return rest
      .map((f, i) => ({ f, i }))
      .sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i)
      .map(({ f }) => f);
  }
}
