// 6. A plugin change reaching traffic: with `up -d` running under a bounded
// keep-alive load, change a response header in the plugin, `envoywasm build`,
// then `envoywasm reload`; time from the end of the build to the first
// response carrying the new header, against the span Envoy itself spent
// compiling that module (its wasm:debug lines "Base Wasm created" to the
// first "Thread-Local Wasm created" after it, in .envoywasm/logs/envoy.log).
// 7. The resident memory of the background supervisor while that runs,
// against a bare idle node, the least Node supervisor carrying the same lines
// (7b), and the same without file pages (7c). The Node baselines run with the
// supervisor's own Node flags and environment.
import { openSync, readSync, closeSync, mkdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startLoad } from "../lib/load.mjs";
import { waitFor200 } from "../lib/net.mjs";
import { cli, down, edit, readState, rssMiB, upDetached } from "../lib/project.mjs";
import { MeasureError, sleep, startGroup, stopGroup } from "../lib/proc.mjs";
import { figure } from "../lib/report.mjs";
import { round, summary } from "../lib/stats.mjs";
import { SUPERVISOR_NODE_FLAGS, supervisorEnv } from "../../dist/supervisor.js";

const HEADER = "x-bench-gen";
const LEAST_SUPERVISOR = fileURLToPath(new URL("../lib/least-supervisor.mjs", import.meta.url));
const PLUGIN_LINE = /(\tproxywasm\.AddHttpResponseHeader\("x-bench-gen", ")[^"]*("\))/;

/** Adds a line that sets x-bench-gen on every response (before the run starts). */
function addGenerationHeader(project) {
  edit(
    path.join(project.dir, "plugin", "main.go"),
    /(func \(h \*httpContext\) OnHttpResponseHeaders\([^)]*\) types\.Action \{\n)/,
    `$1\tproxywasm.AddHttpResponseHeader("${HEADER}", "gen-0")\n`,
  );
}

function readFrom(file, offset) {
  const fd = openSync(file, "r");
  try {
    const size = statSync(file).size;
    const buf = Buffer.alloc(Math.max(0, size - offset));
    readSync(fd, buf, 0, buf.length, offset);
    return buf.toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/** Envoy's own clock on one of its lines: `[2026-11-26 14:33:03.873]` (local time; only differences are used). */
function envoyTime(line) {
  const m = /\[(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d+)\]/.exec(line);
  return m === null ? undefined : Date.parse(`${m[1]}T${m[2]}`);
}

/** Seconds between "Base Wasm created" and the first "Thread-Local Wasm created" after it, in log text. */
async function compileSpan(logFile, offset) {
  for (let tries = 0; tries < 100; tries++) {
    const lines = readFrom(logFile, offset).split("\n");
    const base = lines.findIndex((l) => l.includes("Base Wasm created"));
    const local = base < 0 ? -1 : lines.findIndex((l, i) => i > base && l.includes("Thread-Local Wasm created"));
    if (local > 0) return (envoyTime(lines[local]) - envoyTime(lines[base])) / 1000;
    await sleep(50);
  }
  throw new MeasureError(`${logFile}: no "Base Wasm created" … "Thread-Local Wasm created" pair after the reload (is the wasm component at debug level?)`);
}

export async function reload(ctx, project) {
  addGenerationHeader(project);
  await cli(ctx, ["build"], project.dir);
  const nodeAsSupervisor = { env: supervisorEnv(ctx.env) };
  const bare = startGroup(process.execPath, [...SUPERVISOR_NODE_FLAGS, "-e", "setInterval(() => {}, 1000)"], nodeAsSupervisor);
  let least;
  // 7: the supervisor against an idle bare node, idle and after each reload of figure 6. 7b, 7c: the same
  // reloads under load once more, now with the least supervisor carrying the same lines (apart from
  // figure 6: following the logs takes CPU, which slowed Envoy's compile while it ran beside it).
  const memory = { supervisor: [], bare: [], paired: [], least: [], pairedAnon: [], leastAnon: [] };
  const supervisorPid = () => {
    const pid = readState(project)?.supervisor?.pid;
    if (pid === undefined) throw new MeasureError("no supervisor pid in .envoywasm/state.json");
    return pid;
  };
  const sampleMemory = () => {
    memory.supervisor.push(rssMiB(supervisorPid()));
    memory.bare.push(rssMiB(bare.pid));
  };
  const sampleAgainstLeast = () => {
    const pid = supervisorPid();
    memory.paired.push(rssMiB(pid));
    memory.pairedAnon.push(rssMiB(pid, "RssAnon"));
    memory.least.push(rssMiB(least.pid));
    memory.leastAnon.push(rssMiB(least.pid, "RssAnon"));
  };
  const envoyLog = path.join(project.dir, ".envoywasm", "logs", "envoy.log");
  const s = { toHeader: [], span: [], reloadMs: [] };
  const counts = { total: 0, failed: 0, non200: 0 };
  /** One plugin change reloaded under load; its figure-6 timings kept when `timed`. */
  const reloadUnderLoad = async (i, timed) => {
    const gen = `gen-${i}`;
    let firstNew;
    const load = startLoad(project.ports.listener, "/hello", {
      loops: ctx.reps.reloadLoops,
      onResponse: (r, at) => {
        if (firstNew === undefined && r.headers[HEADER] === gen) firstNew = at;
      },
    });
    try {
      await sleep(500);
      edit(path.join(project.dir, "plugin", "main.go"), PLUGIN_LINE, `$1${gen}$2`);
      const built = await cli(ctx, ["build"], project.dir);
      const offset = statSync(envoyLog).size;
      const reloaded = await cli(ctx, ["reload"], project.dir);
      const deadline = performance.now() + 30_000;
      while (firstNew === undefined && performance.now() < deadline) await sleep(5);
      if (firstNew === undefined) throw new MeasureError(`no response carried ${HEADER}: ${gen} within 30 s of the reload`);
      await sleep(1000);
      if (timed) {
        s.toHeader.push((firstNew - built.endedAt) / 1000);
        s.reloadMs.push(reloaded.ms);
        s.span.push(await compileSpan(envoyLog, offset));
      }
    } finally {
      const c = await load.stop();
      counts.total += c.total;
      counts.failed += c.failed;
      counts.non200 += c.non200;
    }
  };
  try {
    await upDetached(ctx, project);
    await waitFor200(project.ports.listener, "/hello");
    await sleep(1000);
    sampleMemory();
    const n = ctx.reps.reload;
    for (let i = 1; i <= n; i++) {
      ctx.progress(`reload under load: repetition ${i} of ${n}`);
      await reloadUnderLoad(i, true);
      sampleMemory();
    }
    // The least supervisor follows the run's service logs from here, so it carries the lines the supervisor writes, as it writes them.
    const logs = path.join(project.dir, ".envoywasm", "logs");
    const leastDir = path.join(ctx.root, "least");
    mkdirSync(leastDir, { recursive: true });
    least = startGroup(
      process.execPath,
      [...SUPERVISOR_NODE_FLAGS, LEAST_SUPERVISOR, path.join(leastDir, "least.sock"), leastDir, path.join(logs, "envoy.log"), path.join(logs, "backend.log")],
      nodeAsSupervisor,
    );
    await sleep(1000);
    for (let i = 1; i <= n; i++) {
      ctx.progress(`reload under load beside the least supervisor: repetition ${i} of ${n}`);
      await reloadUnderLoad(n + i, false);
      sampleAgainstLeast();
    }
  } finally {
    await stopGroup(bare);
    if (least !== undefined) await stopGroup(least);
    if (project.up) await down(ctx, project);
  }
  const overhead = s.toHeader.map((t, i) => t - s.span[i]);
  const o = summary(overhead);
  const overheadMet = o.median <= 0.3;
  return [
    figure({
      id: "6",
      title: "plugin change to traffic under load: end of `envoywasm build` → first response with the new header (`envoywasm reload`)",
      unit: "s",
      subject: s.toHeader,
      baseline: s.span,
      baselineName: "Envoy's compile span",
      goal: { text: "≤ span + 0.3 s, 0 failed", on: "overhead", max: 0.3 },
      met: overheadMet && counts.failed + counts.non200 === 0,
      extra: {
        overheadS: { ...o, samples: overhead.map((v) => round(v)) },
        requests: counts,
        reloadCommandMs: summary(s.reloadMs),
        spanFrom: 'Envoy 1.40 wasm:debug lines "Base Wasm created" → first "Thread-Local Wasm created" after it (Envoy\'s own timestamps)',
      },
      tableNote: `+${o.median.toFixed(2)} s (${o.min.toFixed(2)}–${o.max.toFixed(2)}) over the span; ${counts.failed + counts.non200} of ${counts.total} requests failed or not 200`,
    }),
    figure({
      id: "7",
      title: "resident memory of the `up -d` supervisor while running (idle and after each reload under load)",
      unit: "MiB",
      subject: memory.supervisor,
      baseline: memory.bare,
      baselineName: "idle bare `node`",
      goal: { text: "≤ 45 MiB", on: "value", max: 45 },
    }),
    figure({
      id: "7b",
      title:
        "the same reloads under load once more, against the least a Node supervisor does carrying the same lines beside it (children piped into log files: `tail -F` of the run's envoy.log and backend.log; a Unix socket that answers: bench/lib/least-supervisor.mjs)",
      unit: "MiB",
      subject: memory.paired,
      baseline: memory.least,
      baselineName: "least Node supervisor",
    }),
    figure({
      id: "7c",
      title: "the same, counting only each process's own memory (RssAnon: without the node binary's code pages, which vary by some MiB between identical runs)",
      unit: "MiB",
      subject: memory.pairedAnon,
      baseline: memory.leastAnon,
      baselineName: "least Node supervisor's own",
    }),
  ];
}
