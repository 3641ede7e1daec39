// 8. The log pipeline: a backend that writes N lines in one burst, one write per
// line as fast as it can (as a logger does), under `up -d` once the run is up
// (asked with GET /bench-lines, so Envoy's start-up compile does not share the
// machine with it); the time from its first line until the last is in
// .envoywasm/logs/backend.log, against the same binary writing them to
// /dev/null. Every line must arrive, in order.
import { closeSync, createReadStream, existsSync, openSync, readSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { freePorts, get, waitFor200, waitPortsFree } from "../lib/net.mjs";
import { cli, down, edit, upDetached } from "../lib/project.mjs";
import { MeasureError, sleep, startGroup, stopGroup } from "../lib/proc.mjs";
import { figure } from "../lib/report.mjs";
import { pairedRatios, summary } from "../lib/stats.mjs";

function addLineWriter(project, lines) {
  const file = path.join(project.dir, "backend", "main.go");
  edit(file, /(\tmux\.HandleFunc\("GET \/hello")/, '\tmux.HandleFunc("GET /bench-lines", func(w http.ResponseWriter, r *http.Request) { benchLines() })\n$1');
  edit(
    file,
    /$/,
    `
// benchLines writes ${lines} numbered lines to stdout, one write each, with
// its own clock's start and end on stderr (envoywasm's bench suite).
func benchLines() {
	fmt.Fprintf(os.Stderr, "bench-start %d\\n", time.Now().UnixNano())
	for i := 0; i < ${lines}; i++ {
		fmt.Fprintf(os.Stdout, "bench-line %d\\n", i)
	}
	fmt.Fprintf(os.Stderr, "bench-done %d\\n", time.Now().UnixNano())
}
`,
  );
}

/** Reads a growing file from where it left off; says whether `text` has appeared in it yet. */
function watcher(file, text) {
  let offset = 0;
  let carry = "";
  return () => {
    if (!existsSync(file)) return false;
    const fd = openSync(file, "r");
    try {
      const size = statSync(file).size;
      if (size <= offset) return false;
      const buf = Buffer.alloc(size - offset);
      readSync(fd, buf, 0, buf.length, offset);
      offset = size;
      const chunk = carry + buf.toString("latin1");
      if (chunk.includes(text)) return true;
      carry = chunk.slice(-text.length);
      return false;
    } finally {
      closeSync(fd);
    }
  };
}

/** The numbered lines in the log, in file order: how many, and whether they run 0, 1, 2, … */
async function checkOrder(file, expected) {
  let count = 0;
  let inOrder = true;
  const marks = {};
  for await (const line of readline.createInterface({ input: createReadStream(file) })) {
    const m = / bench-line (\d+)$/.exec(line);
    if (m !== null) {
      if (Number(m[1]) !== count) inOrder = false;
      count++;
      continue;
    }
    const s = / bench-(start|done) (\d+)$/.exec(line);
    if (s !== null) marks[s[1]] = Number(BigInt(s[2]) / 1000n) / 1000;
  }
  return { count, inOrder: inOrder && count === expected, startMs: marks.start, doneMs: marks.done };
}

async function underUp(ctx, project, lines) {
  const log = path.join(project.dir, ".envoywasm", "logs", "backend.log");
  rmSync(log, { force: true });
  const arrived = watcher(log, ` bench-line ${lines - 1}\n`);
  await upDetached(ctx, project);
  let failed;
  const burst = get(project.ports.backend, "/bench-lines", { timeoutMs: 120_000 }).catch((error) => {
    failed = error;
  });
  let seenAt;
  const deadline = performance.now() + 120_000;
  while (seenAt === undefined) {
    if (failed !== undefined) throw failed;
    if (arrived()) seenAt = Date.now();
    else if (performance.now() > deadline) throw new MeasureError(`the last of ${lines} lines did not reach ${log} within 120 s`);
    else await sleep(5);
  }
  await burst;
  const check = await checkOrder(log, lines);
  if (check.startMs === undefined) throw new MeasureError(`${log} has no bench-start line`);
  await down(ctx, project);
  await waitPortsFree(Object.values(project.ports));
  return { ms: seenAt - check.startMs, writeMs: check.doneMs - check.startMs, count: check.count, inOrder: check.inOrder };
}

/**
 * The backend on its own, stdout to `target` (/dev/null, or a file; with
 * `throughCat`, `| cat > target`: a kernel pipe and the lightest reader); its
 * own clock from first line to last.
 */
async function alone(ctx, project, target, { throughCat = false } = {}) {
  const [port] = await freePorts(1);
  const binary = path.join(project.dir, ".envoywasm", "bin", "backend");
  const out = openSync(target, "w");
  const [file, args] = throughCat ? ["sh", ["-c", 'exec "$0" | cat >&3', binary]] : [binary, []];
  const backend = startGroup(file, args, {
    cwd: path.join(project.dir, "backend"),
    env: { ...ctx.env, PORT: String(port), HOST: "127.0.0.1" },
    stdio: throughCat ? ["ignore", "ignore", "pipe", out] : ["ignore", out, "pipe"],
  });
  closeSync(out);
  let err = "";
  backend.child.stderr.setEncoding("utf8").on("data", (c) => (err += c));
  try {
    await waitFor200(port, "/hello", { alive: () => !backend.done });
    void get(port, "/bench-lines", { timeoutMs: 120_000 }).catch(() => {});
    const deadline = performance.now() + 120_000;
    while (!/bench-done \d+\n/.test(err)) {
      if (backend.done || performance.now() > deadline) throw new MeasureError(`the backend writing to ${target} did not finish: ${err.slice(-300)}`);
      await sleep(5);
    }
  } finally {
    await stopGroup(backend);
  }
  const ns = (name) => BigInt(new RegExp(`${name} (\\d+)`).exec(err)[1]);
  return Number((ns("bench-done") - ns("bench-start")) / 1000n) / 1000;
}

export async function logs(ctx, project) {
  const lines = ctx.reps.logLines;
  addLineWriter(project, lines);
  await cli(ctx, ["build"], project.dir);
  if (ctx.mode !== "smoke") await underUp(ctx, project, lines); // warm: builds the backend, Envoy's validation, the file cache
  const s = { ours: [], bare: [], file: [], cat: [], writeUnderUp: [] };
  const arrivals = [];
  const toFile = path.join(ctx.root, "backend-lines.out");
  const n = ctx.reps.logs;
  for (let i = 0; i < n; i++) {
    ctx.progress(`log pipeline, ${lines} lines: repetition ${i + 1} of ${n}`);
    const steps = [
      async () => {
        const r = await underUp(ctx, project, lines);
        s.ours.push(r.ms);
        s.writeUnderUp.push(r.writeMs);
        arrivals.push({ lines: r.count, inOrder: r.inOrder });
      },
      async () => s.bare.push(await alone(ctx, project, "/dev/null")),
      async () => s.file.push(await alone(ctx, project, toFile)),
      async () => s.cat.push(await alone(ctx, project, toFile, { throughCat: true })),
    ];
    for (const step of i % 2 === 0 ? steps : steps.reverse()) await step();
  }
  rmSync(toFile, { force: true });
  const allArrived = arrivals.every((a) => a.lines === lines && a.inOrder);
  const ratio = summary(pairedRatios(s.ours, s.bare));
  const title = `log pipeline: ${lines.toLocaleString("en")} backend lines (one write each) into .envoywasm/logs/backend.log under \`up -d\``;
  return [
    figure({
      id: "8",
      title,
      unit: "ms",
      subject: s.ours,
      baseline: s.bare,
      baselineName: "the same binary, stdout to /dev/null",
      goal: { text: "≤ 1.5×, every line in order", max: 1.5 },
      met: ratio.median <= 1.5 && allArrived,
      extra: { lines, arrivals, backendWriteMsUnderUp: summary(s.writeUnderUp) },
      notes:
        "timed from the backend's first line (its own clock) until the last line is in the log file; the backend's own write loop under up is backendWriteMsUnderUp (it waits on the pipe)",
      tableNote: allArrived ? `all ${lines.toLocaleString("en")} lines arrived, in order, every time` : "**lines lost or out of order**",
    }),
    figure({
      id: "8b",
      title: "the same lines, `up -d`'s log file against the binary's stdout redirected to a file (for scale)",
      unit: "ms",
      subject: s.ours,
      baseline: s.file,
      baselineName: "stdout > a file",
    }),
    figure({
      id: "8c",
      title:
        "the same lines, `up -d`'s log file against the binary piped into `cat` writing the file (a kernel pipe and the lightest reader: the floor for any pipeline)",
      unit: "ms",
      subject: s.ours,
      baseline: s.cat,
      baselineName: "`cat` reading its pipe, writing a file",
    }),
  ];
}
