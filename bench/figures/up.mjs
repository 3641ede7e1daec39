// 4. `envoywasm up -d` to the first 200 through the listener, against a hand
// start of the same two programs (the built backend, and Envoy on the
// project's own envoy.yaml), nothing changed; 5. the same after a one-line
// plugin change, against `go build` plus the hand start.
import { closeSync, openSync } from "node:fs";
import path from "node:path";
import { waitFor200, waitPortsFree } from "../lib/net.mjs";
import { changePlugin, cli, down, goBuild, upDetached, wasmPath } from "../lib/project.mjs";
import { startGroup, stopGroup } from "../lib/proc.mjs";
import { figure } from "../lib/report.mjs";

/** The backend binary `up` built, and `envoy -c envoy.yaml` from the project root, as a person would start them. */
async function handStart(ctx, project) {
  const log = openSync(path.join(ctx.root, `hand-${project.name}.log`), "a");
  const started = performance.now();
  const backend = startGroup(path.join(project.dir, ".envoywasm", "bin", "backend"), [], {
    cwd: path.join(project.dir, "backend"),
    env: { ...ctx.env, PORT: String(project.ports.backend), HOST: "127.0.0.1" },
    stdio: ["ignore", log, log],
  });
  const envoy = startGroup(ctx.envoy.path, ["-c", "envoy.yaml", "--concurrency", "1", "--base-id", String(ctx.baseId)], {
    cwd: project.dir,
    env: ctx.env,
    stdio: ["ignore", log, log],
  });
  closeSync(log);
  const stop = async () => {
    await Promise.all([stopGroup(envoy), stopGroup(backend)]);
    await waitPortsFree(Object.values(project.ports));
  };
  try {
    const at = await waitFor200(project.ports.listener, "/hello", { alive: () => !envoy.done && !backend.done, what: "the hand-started Envoy" });
    return { ms: at - started, at, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function upToFirst200(ctx, project) {
  const started = performance.now();
  await upDetached(ctx, project);
  const at = await waitFor200(project.ports.listener, "/hello", { what: "Envoy after `envoywasm up -d`" });
  return { ms: at - started };
}

async function stopRun(ctx, project) {
  await down(ctx, project);
  await waitPortsFree(Object.values(project.ports));
}

export async function up(ctx, project) {
  // Warm: builds current, Envoy's validation remembered, the OS's file cache (not in a smoke run,
  // whose numbers mean little: it shows the figures run).
  await cli(ctx, ["build"], project.dir);
  if (ctx.mode !== "smoke") {
    await upToFirst200(ctx, project);
    await stopRun(ctx, project);
    await (await handStart(ctx, project)).stop();
  }

  const n = ctx.reps.up;
  const unchanged = { ours: [], hand: [] };
  for (let i = 0; i < n; i++) {
    ctx.progress(`up, nothing changed: repetition ${i + 1} of ${n}`);
    const steps = [
      async () => {
        unchanged.ours.push((await upToFirst200(ctx, project)).ms);
        await stopRun(ctx, project);
      },
      async () => {
        const h = await handStart(ctx, project);
        unchanged.hand.push(h.ms);
        await h.stop();
      },
    ];
    for (const step of i % 2 === 0 ? steps : steps.reverse()) await step();
  }

  const changed = { ours: [], hand: [] };
  let edits = 1000;
  for (let i = 0; i < n; i++) {
    ctx.progress(`up after a plugin change: repetition ${i + 1} of ${n}`);
    const steps = [
      async () => {
        changePlugin(project, ++edits);
        changed.ours.push((await upToFirst200(ctx, project)).ms);
        await stopRun(ctx, project);
      },
      async () => {
        changePlugin(project, ++edits);
        const started = performance.now();
        await goBuild(ctx, project, wasmPath(project));
        const h = await handStart(ctx, project);
        changed.hand.push(h.at - started);
        await h.stop();
      },
    ];
    for (const step of i % 2 === 0 ? steps : steps.reverse()) await step();
  }

  const hand = "backend + `envoy -c envoy.yaml` by hand";
  return [
    figure({
      id: "4",
      title: "`envoywasm up -d` to the first 200, nothing changed",
      unit: "ms",
      subject: unchanged.ours,
      baseline: unchanged.hand,
      baselineName: hand,
      goal: { text: "≤ 1.1×", max: 1.1 },
    }),
    figure({
      id: "5",
      title: "`envoywasm up -d` to the first 200 after a one-line plugin change",
      unit: "ms",
      subject: changed.ours,
      baseline: changed.hand,
      baselineName: `\`go build\` + ${hand}`,
      goal: { text: "≤ 1.15×", max: 1.15 },
    }),
  ];
}
