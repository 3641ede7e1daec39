// 8. The log pipeline: a backend that writes N lines at start, one write per
// line as fast as it can (as a logger does), under `up -d`; the time from its
// first line until the last is in .envoywasm/logs/backend.log, against the
// same binary writing them to /dev/null. Every line must arrive, in order.
import { closeSync, createReadStream, existsSync, openSync, readSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { freePorts, waitPortsFree } from "../lib/net.mjs";
import { cli, down, edit, upDetached } from "../lib/project.mjs";
import { MeasureError, sleep, startGroup, stopGroup } from "../lib/proc.mjs";
import { figure } from "../lib/report.mjs";
import { pairedRatios, summary } from "../lib/stats.mjs";

function addLineWriter(project, lines) {
  const file = path.join(project.dir, "backend", "main.go");
  edit(file, /(func main\(\) \{\n)/, "$1\tbenchLines()\n");
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

function tail(file, bytes = 256) {
  const fd = openSync(file, "r");
  try {
    const size = statSync(file).size;
    const buf = Buffer.alloc(Math.min(bytes, size));
    readSync(fd, buf, 0, buf.length, size - buf.length);
    return buf.toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/** The numbered lines in the log, in file order: how many, and whether they run 0, 1, 2, … */
async function checkOrder(file, expected) {
  let count = 0;
  let inOrder = true;
  let start;
  for await (const line of readline.createInterface({ input: createReadStream(file) })) {
    const m = / bench-line (\d+)$/.exec(line);
    if (m !== null) {
      if (Number(m[1]) !== count) inOrder = false;
      count++;
      continue;
    }
    const s = / bench-start (\d+)$/.exec(line);
    if (s !== null) start = Number(BigInt(s[1]) / 1000n) / 1000;
  }
  return { count, inOrder: inOrder && count === expected, startMs: start };
}

async function underUp(ctx, project, lines) {
  const log = path.join(project.dir, ".envoywasm", "logs", "backend.log");
  rmSync(log, { force: true });
  const last = `bench-line ${lines - 1}\n`;
  const up = upDetached(ctx, project);
  let seenAt;
  const deadline = performance.now() + 120_000;
  while (seenAt === undefined) {
    if (existsSync(log) && tail(log).endsWith(last)) seenAt = Date.now();
    else if (performance.now() > deadline) throw new MeasureError(`the last of ${lines} lines did not reach ${log} within 120 s`);
    else await sleep(5);
  }
  await up;
  const check = await checkOrder(log, lines);
  if (check.startMs === undefined) throw new MeasureError(`${log} has no bench-start line`);
  await down(ctx, project);
  await waitPortsFree(Object.values(project.ports));
  return { ms: seenAt - check.startMs, count: check.count, inOrder: check.inOrder };
}

async function toDevNull(ctx, project) {
  const [port] = await freePorts(1);
  const devnull = openSync("/dev/null", "w");
  const backend = startGroup(path.join(project.dir, ".envoywasm", "bin", "backend"), [], {
    cwd: path.join(project.dir, "backend"),
    env: { ...ctx.env, PORT: String(port), HOST: "127.0.0.1" },
    stdio: ["ignore", devnull, "pipe"],
  });
  closeSync(devnull);
  let err = "";
  backend.child.stderr.setEncoding("utf8").on("data", (c) => (err += c));
  try {
    const deadline = performance.now() + 120_000;
    while (!/bench-done \d+\n/.test(err)) {
      if (backend.done || performance.now() > deadline) throw new MeasureError(`the backend writing to /dev/null did not finish: ${err.slice(-300)}`);
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
  await underUp(ctx, project, lines); // warm: builds the backend, Envoy's validation, the file cache
  const s = { ours: [], bare: [] };
  const arrivals = [];
  const n = ctx.reps.logs;
  for (let i = 0; i < n; i++) {
    ctx.progress(`log pipeline, ${lines} lines: repetition ${i + 1} of ${n}`);
    const steps = [
      async () => {
        const r = await underUp(ctx, project, lines);
        s.ours.push(r.ms);
        arrivals.push({ lines: r.count, inOrder: r.inOrder });
      },
      async () => s.bare.push(await toDevNull(ctx, project)),
    ];
    for (const step of i % 2 === 0 ? steps : steps.reverse()) await step();
  }
  const allArrived = arrivals.every((a) => a.lines === lines && a.inOrder);
  const ratio = summary(pairedRatios(s.ours, s.bare));
  return [
    figure({
      id: "8",
      title: `log pipeline: ${lines.toLocaleString("en")} backend lines into .envoywasm/logs/backend.log under \`up -d\``,
      unit: "ms",
      subject: s.ours,
      baseline: s.bare,
      baselineName: "the same binary, stdout to /dev/null",
      goal: { text: "≤ 1.5×, every line in order", max: 1.5 },
      met: ratio.median <= 1.5 && allArrived,
      extra: { lines, arrivals },
      tableNote: allArrived ? `all ${lines.toLocaleString("en")} lines arrived, in order, every time` : "**lines lost or out of order**",
    }),
  ];
}
