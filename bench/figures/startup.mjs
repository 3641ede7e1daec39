// 1. `envoywasm --version` and 2. a no-change `envoywasm build`, each against
// a bare `node -e 0`: what the CLI costs before it does anything. Also the
// no-change `go build` itself, for scale.
import path from "node:path";
import { cli, goBuild } from "../lib/project.mjs";
import { timed } from "../lib/proc.mjs";
import { figure } from "../lib/report.mjs";

export async function startup(ctx, project) {
  const bareNode = () => timed(process.execPath, ["-e", "0"], { env: ctx.env }).then((r) => r.ms);
  const version = () => cli(ctx, ["--version"], ctx.root).then((r) => r.ms);
  const noopBuild = () => cli(ctx, ["build"], project.dir).then((r) => r.ms);
  const out = path.join(ctx.root, "direct-noop.wasm");
  const goNoop = () => goBuild(ctx, project, out).then((r) => r.ms);

  // Warm: the OS's file cache, Go's build cache for `out`, envoywasm's memo of `go version`.
  for (const f of [bareNode, version, noopBuild, goNoop, noopBuild]) await f();
  const s = { node: [], version: [], build: [], go: [] };
  const n = ctx.reps.startup;
  for (let i = 0; i < n; i++) {
    ctx.progress(`startup: repetition ${i + 1} of ${n}`);
    // Alternate the order, so a drift in the machine's load favours neither side.
    const steps = [
      async () => s.node.push(await bareNode()),
      async () => s.version.push(await version()),
      async () => s.build.push(await noopBuild()),
      async () => s.go.push(await goNoop()),
    ];
    for (const step of i % 2 === 0 ? steps : steps.reverse()) await step();
  }
  return [
    figure({
      id: "1",
      title: "`envoywasm --version`",
      unit: "ms",
      subject: s.version,
      baseline: s.node,
      baselineName: "`node -e 0`",
      goal: { text: "≤ 1.2×", max: 1.2 },
    }),
    figure({
      id: "2",
      title: "`envoywasm build`, nothing changed",
      unit: "ms",
      subject: s.build,
      baseline: s.node,
      baselineName: "`node -e 0`",
      goal: { text: "≤ 1.3×", max: 1.3 },
    }),
    figure({
      id: "2b",
      title: "`go build` by hand, nothing changed (for scale)",
      unit: "ms",
      subject: s.go,
      baseline: s.node,
      baselineName: "`node -e 0`",
      notes:
        "GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o <tmp> . in plugin/, warm Go cache: what a no-change build would cost without envoywasm's own stamp",
    }),
  ];
}
