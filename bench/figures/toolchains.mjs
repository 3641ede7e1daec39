// 10. The add-header template in Rust beside the same template in Go (the
// baseline), each a project of its own in this run: what the filter costs
// over Envoy without it (`envoywasm bench`: requests/s as a share, p50/p99
// added), its module's size, its build cold (the compiler's cache empty: a
// fresh GOCACHE; cargo's target/ removed; dependencies already downloaded)
// and warm (after a one-line change), and `up -d` to the first 200.
// 9g: Rust's floor (the no-op Rust filter against no filter), from 10a's runs.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { waitFor200, waitPortsFree } from "../lib/net.mjs";
import { changePlugin, cli, down, edit, initProject, upDetached, wasmPath } from "../lib/project.mjs";
import { figure } from "../lib/report.mjs";
import { benchOnce, costOf, cpuText, us } from "./data-path.mjs";

/** A one-line change to the Rust plugin that changes what it compiles to. */
function changeRust(project, n) {
  edit(path.join(project.dir, "plugin", "src", "lib.rs"), /(DEFAULT_VALUE: &str = "[^"]*?)(?: #\d+)?"/, `$1 #${n}"`);
}

async function coldBuild(ctx, project) {
  if (project.toolchain === "rust") {
    rmSync(path.join(project.dir, "plugin", "target"), { recursive: true, force: true });
    return (await cli(ctx, ["build", "--force"], project.dir)).ms;
  }
  const cache = mkdtempSync(path.join(ctx.root, "gocache-"));
  try {
    return (await cli(ctx, ["build", "--force"], project.dir, { env: { ...ctx.env, GOCACHE: cache } })).ms;
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

async function upStart(ctx, project) {
  const started = performance.now();
  await upDetached(ctx, project);
  const at = await waitFor200(project.ports.listener, "/hello", { what: `Envoy after \`envoywasm up -d\` (${project.toolchain})` });
  await down(ctx, project);
  await waitPortsFree(Object.values(project.ports));
  return at - started;
}

export async function toolchains(ctx, rust) {
  rust.toolchain = "rust";
  const go = await initProject(ctx, "p-toolchains-go", "add-header");
  go.toolchain = "go";
  await cli(ctx, ["build"], go.dir);
  const sides = { go: { project: go, runs: [], cold: [], warm: [], up: [] }, rust: { project: rust, runs: [], cold: [], warm: [], up: [] } };
  let edits = 0;
  const n = ctx.reps.toolchains;
  for (let i = 0; i < n; i++) {
    ctx.progress(`Go and Rust add-header: repetition ${i + 1} of ${n}`);
    for (const name of i % 2 === 0 ? ["go", "rust"] : ["rust", "go"]) {
      const s = sides[name];
      s.runs.push(await benchOnce(ctx, s.project, `add-header, ${name}`));
      s.cold.push(await coldBuild(ctx, s.project));
      (name === "rust" ? changeRust : changePlugin)(s.project, ++edits);
      s.warm.push((await cli(ctx, ["build", "--force"], s.project.dir)).ms);
      s.up.push(await upStart(ctx, s.project));
    }
  }
  const share = (runs) => runs.map((r) => r.plugin.requestsPerSecond / r.baseline.requestsPerSecond);
  const addedUs = (runs, p) => runs.map((r) => r.plugin.latencyUs[p] - r.baseline.latencyUs[p]);
  const kib = (p) => statSync(wasmPath(p)).size / 1024;
  const row = (id, what, unit, subject, baseline, extra) =>
    figure({ id, title: `add-header in Rust beside Go: ${what}`, unit, subject, baseline, baselineName: "Go", ...extra });
  const floor = costOf(sides.rust.runs, "floorCost");
  return [
    figure({
      id: "9g",
      title: `data path, the floor: the no-op rust filter (${sides.rust.runs[0].noopFilter.sdk}, default contexts only), from 10a's runs`,
      unit: "req/s",
      subject: sides.rust.runs.map((r) => r.floor.requestsPerSecond),
      baseline: sides.rust.runs.map((r) => r.baseline.requestsPerSecond),
      baselineName: "same Envoy without a filter",
      ratios: sides.rust.runs.map((r) => r.floorCost.rpsRatio),
      extra: { toolchain: "rust", sdk: sides.rust.runs[0].noopFilter.sdk, floor },
      tableNote: `p50 ${us(floor.p50AddedUs)}, p99 ${us(floor.p99AddedUs)}${cpuText(floor)}`,
    }),
    row("10a", "requests/s as a share of the same Envoy without the filter (`envoywasm bench`)", "×", share(sides.rust.runs), share(sides.go.runs)),
    row("10b", "p50 latency added over Envoy without the filter", "µs", addedUs(sides.rust.runs, "p50"), addedUs(sides.go.runs, "p50")),
    row("10c", "p99 latency added over Envoy without the filter", "µs", addedUs(sides.rust.runs, "p99"), addedUs(sides.go.runs, "p99")),
    row("10d", "module size", "KiB", [kib(rust)], [kib(go)]),
    row("10e", "`envoywasm build --force`, cold (the compiler's cache empty; dependencies downloaded)", "ms", sides.rust.cold, sides.go.cold),
    row("10f", "`envoywasm build --force`, warm, after a one-line change", "ms", sides.rust.warm, sides.go.warm),
    row("10g", "`envoywasm up -d` to the first 200", "ms", sides.rust.up, sides.go.up),
  ];
}
