import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll } from "vitest";
import * as v from "valibot";
import { DaemonMessageSchema, PlanMessageSchema } from "../../src/run/supervisor/messages.js";
import { takeLock, readLock } from "../../src/run/supervisor/lock.js";
import { RunPlanSchema, type RunPlan, type ServicePlan } from "../../src/run/plan.js";
import { ProcessService } from "../../src/run/runtime/process.js";
import type { Service } from "../../src/run/runtime/service.js";
import { readLastRun, readState } from "../../src/run/supervisor/state.js";
import { supervise, type SuperviseHooks } from "../../src/run/supervisor/supervise.js";
import { freePorts, removeTempDirs, tempDir } from "../helpers/cli.js";

// Real child processes (tiny Node programs in test/fixtures) make the hard
// cases of supervision repeatable.
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const running: Service[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) s.killNow();
});

afterAll(removeTempDirs);

function service(name: string, script: string, args: string[] = [], onLine: (s: string, l: string) => void = () => {}): ProcessService {
  const s = new ProcessService({ name, file: process.execPath, args: [fixture(script), ...args], cwd: process.cwd(), env: {}, ports: [] }, onLine);
  running.push(s);
  return s;
}

/** Running, not merely a zombie waiting for a parent to reap it. */
function alive(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
  } catch {
    return false;
  }
}

describe("ProcessService", () => {
  it("escalates to SIGKILL when a program ignores SIGTERM", async () => {
    const lines: string[] = [];
    const s = service("stubborn", "ignores-sigterm.mjs", [], (_, l) => lines.push(l));
    await s.start();
    await waitFor(() => lines.includes("up"));
    const started = Date.now();
    const exit = await s.stop(300);
    expect(exit).toEqual({ code: null, signal: "SIGKILL" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(lines).toContain("got SIGTERM, ignoring it");
    expect(alive(s.pid!)).toBe(false);
  });

  it("records the program's identity (pid, start time, command line), not setpriv's", async () => {
    const s = service("id", "silent.mjs");
    await s.start();
    const record = s.record();
    expect(record.process?.pid).toBe(s.pid);
    expect(record.process?.startTime).toMatch(/^\d+$/);
    expect(record.process?.command).toBe(`${process.execPath} ${fixture("silent.mjs")}`);
  });

  it("hands over whole lines only, from services writing at once in pieces", async () => {
    const seen: [string, string][] = [];
    const onLine = (s: string, l: string) => seen.push([s, l]);
    const a = service("a", "partial-lines.mjs", ["he,llo NAME|wo,rld NAME|", "a"], onLine);
    const b = service("b", "partial-lines.mjs", ["x,y,z NAME|", "b"], onLine);
    await Promise.all([a.start(), b.start()]);
    await Promise.all([a.exited, b.exited]);
    const fromA = seen.filter(([s]) => s === "a").map(([, l]) => l);
    const fromB = seen.filter(([s]) => s === "b").map(([, l]) => l);
    expect(fromA.length).toBeGreaterThan(5);
    for (const l of fromA.slice(0, -1)) expect(["hello a", "world a"]).toContain(l);
    expect(fromA.at(-1)).toBe("last-a"); // the last line had no newline
    for (const l of fromB.slice(0, -1)) expect(l).toBe("xyz b");
    expect(fromB.at(-1)).toBe("last-b");
  });

  it("gives a program kernel pipes for stdout and stderr (not socket pairs), and a fast burst arrives whole and in order", async () => {
    const lines: string[] = [];
    const script = `
      const { fstatSync, writeSync } = require("node:fs");
      for (const fd of [1, 2]) writeSync(fd, (fstatSync(fd).isFIFO() ? "fifo " : "other ") + fd + "\\n");
      for (let i = 0; i < 20000; i++) writeSync(1, "n " + i + "\\n");`;
    const s = new ProcessService({ name: "burst", file: process.execPath, args: ["-e", script], cwd: process.cwd(), env: {}, ports: [] }, (_, l) =>
      lines.push(l),
    );
    running.push(s);
    await s.start();
    expect(await s.exited).toEqual({ code: 0, signal: null });
    expect(lines.filter((l) => /^(fifo|other) /.test(l)).sort()).toEqual(["fifo 1", "fifo 2"]);
    const numbers = lines.filter((l) => l.startsWith("n ")).map((l) => Number(l.slice(2)));
    expect(numbers.length).toBe(20000);
    expect(numbers.every((n, i) => n === i)).toBe(true);
  });

  it("stops what a program started, too (its whole process group)", async () => {
    const lines: string[] = [];
    const s = service("parent", "with-grandchild.mjs", [], (_, l) => lines.push(l));
    await s.start();
    await waitFor(() => lines.some((l) => l.startsWith("grandchild ")));
    const grandchild = Number(lines.find((l) => l.startsWith("grandchild "))!.split(" ")[1]);
    expect(alive(grandchild)).toBe(true);
    await s.stop(2000);
    await waitFor(() => !alive(grandchild), 3000);
  });
});

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The supervisor itself, driven by fixture programs in place of Envoy and the
 * backend: seconds, no Envoy. Its plan says everything (it reads no project
 * file): an empty folder is its project.
 */
describe("supervise", () => {
  async function project(): Promise<{ root: string; plan: (services: ServicePlan[], extra?: Partial<RunPlan>) => RunPlan }> {
    const root = await tempDir("envoywasm-sup-");
    const state = path.join(root, ".envoywasm");
    return {
      root,
      plan: (services, extra = {}) => ({
        runId: `test-${Math.random().toString(36).slice(2)}`,
        root,
        name: "sup",
        logsDir: path.join(state, "logs"),
        stateFile: path.join(state, "state.json"),
        lastRunFile: path.join(state, "last-run.json"),
        lockFile: path.join(state, "run.lock"),
        controlSocket: path.join(root, "control.sock"),
        runtime: { kind: "native" },
        services,
        envoy: { version: "0.0.0" },
        admin: 1,
        listeners: [],
        ecds: [],
        modules: [],
        failurePolicy: "FAIL_CLOSED",
        readyTimeoutMs: 10_000,
        graceMs: 2000,
        watch: false,
        live: {
          sources: { dirs: [], files: [] },
          builtModules: [{ plugin: "plugin", file: path.join(root, "build", "sup.wasm") }],
          skeletonHash: "0".repeat(64),
        },
        ...extra,
      }),
    };
  }

  const node = (name: string, script: string, port: number, env: Record<string, string> = {}): ServicePlan => ({
    name,
    file: process.execPath,
    args: [fixture(script)],
    cwd: process.cwd(),
    env: { PORT: String(port), ...env },
    ports: [port],
    ready: { kind: "http", port },
  });

  function hooks(lines: string[]): SuperviseHooks {
    return { mode: "foreground", colour: false, terminal: { write: (t: string) => lines.push(t) } as unknown as NodeJS.WritableStream };
  }

  it("starts services in order, each once ready; a crash after ready stops the rest and is recorded", async () => {
    const p = await project();
    const [a, b] = await freePorts(2);
    const plan = p.plan([node("first", "http-server.mjs", a!), node("second", "http-server.mjs", b!, { DIE_AFTER_MS: "400" })]);
    await takeLock(plan.lockFile, plan.runId);
    const lines: string[] = [];
    const outcome = await supervise(plan, { ...hooks(lines), onReady: () => lines.push("READY\n"), onStopping: () => lines.push("STOPPING\n") });
    expect(outcome).toMatchObject({ kind: "crashed", service: "second", exit: { code: 4, signal: null } });
    // Service lines reach the terminal a burst at a time: what envoywasm says still follows the lines before it.
    const ready = lines.indexOf("READY\n");
    const all = lines.join("");
    expect(all.indexOf("STOPPING")).toBeGreaterThan(all.indexOf("second | giving up"));
    // (One write may carry several lines of a burst: the lines, not the writes, are checked.)
    const beforeReady = lines.slice(0, ready).join("");
    expect(beforeReady).toMatch(/^first {2}\| listening on/m);
    expect(beforeReady).toMatch(/^second \| listening on/m);
    expect(lines.join("")).toContain("second | giving up");
    // Everything ended: state gone, lock released, how it ended recorded.
    expect(existsSync(plan.stateFile)).toBe(false);
    expect(await readLock(plan.lockFile)).toBeUndefined();
    expect(await readLastRun(plan.lastRunFile)).toMatchObject({
      outcome: "crashed",
      service: "second",
      exit: { code: 4 },
      lastLines: expect.arrayContaining(["giving up"]),
    });
    expect(await readFile(path.join(plan.logsDir, "first.log"), "utf8")).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z listening on \d+\n/);
  });

  it("times out a service that never gets ready, names it and shows its last lines", async () => {
    const p = await project();
    const [a] = await freePorts(1);
    const plan = p.plan([node("mute", "silent.mjs", a!)], { readyTimeoutMs: 1000 });
    await takeLock(plan.lockFile, plan.runId);
    const progress: string[] = [];
    const error = await supervise(plan, { ...hooks([]), onProgress: (t) => progress.push(t) }).catch((e: unknown) => e as Error);
    expect((error as Error).message).toBe("mute was not ready after 1 s; its last lines:\n  mute | started, but never ready");
    expect((await readLastRun(plan.lastRunFile))?.outcome).toBe("failed");
    expect(existsSync(plan.stateFile)).toBe(false);
  });

  it("reports a service that dies before it is ready, with what it said", async () => {
    const p = await project();
    const [a] = await freePorts(1);
    const plan = p.plan([{ ...node("dies", "dies-at-once.mjs", a!) }]);
    await takeLock(plan.lockFile, plan.runId);
    const error = await supervise(plan, hooks([])).catch((e: unknown) => e as Error);
    expect((error as Error).message).toBe("dies exited with code 3 before it was ready; its last lines:\n  dies | fatal: cannot open config.json");
  });

  it("SIGTERM stops every service and writes how the run ended; the state file lives only while it runs", async () => {
    const p = await project();
    const [a] = await freePorts(1);
    const plan = p.plan([node("web", "http-server.mjs", a!)]);
    await takeLock(plan.lockFile, plan.runId);
    let stateWhileRunning: Awaited<ReturnType<typeof readState>>;
    const outcome = await supervise(plan, {
      ...hooks([]),
      onReady: () => {
        void readState(plan.stateFile).then((s) => {
          stateWhileRunning = s;
          process.emit("SIGTERM", "SIGTERM");
        });
      },
    });
    expect(outcome).toEqual({ kind: "stopped", signal: "SIGTERM" });
    expect(stateWhileRunning!).toMatchObject({ runId: plan.runId, mode: "foreground", services: [{ name: "web", ports: [a] }] });
    expect(stateWhileRunning!.services[0]!.process?.pid).toBeGreaterThan(0);
    expect(await readLastRun(plan.lastRunFile)).toMatchObject({ outcome: "stopped", reason: "stopped by SIGTERM" });
    expect(existsSync(plan.stateFile)).toBe(false);
  });

  it("keeps the previous run's log as <service>.1.log", async () => {
    const p = await project();
    const [a] = await freePorts(1);
    for (const round of [1, 2]) {
      const plan = p.plan([node("web", "http-server.mjs", a!, { DIE_AFTER_MS: "200", ROUND: String(round) })]);
      await takeLock(plan.lockFile, plan.runId);
      await supervise(plan, hooks([]));
    }
    const logs = path.join(p.root, ".envoywasm", "logs");
    expect(await readFile(path.join(logs, "web.log"), "utf8")).toContain("listening on");
    expect(await readFile(path.join(logs, "web.1.log"), "utf8")).toContain("listening on");
  });
});

describe("what up -d and its background supervisor exchange", () => {
  it("accepts only well-formed messages and plans", () => {
    const isDaemonMessage = (m: unknown) => v.is(DaemonMessageSchema, m);
    expect(isDaemonMessage({ type: "ready", ms: 12 })).toBe(true);
    expect(isDaemonMessage({ type: "failed", message: "x", hint: "y" })).toBe(true);
    expect(isDaemonMessage({ type: "ready" })).toBe(false);
    expect(isDaemonMessage({ type: "failed", message: 3 })).toBe(false);
    expect(isDaemonMessage(null)).toBe(false);
    expect(isDaemonMessage("ready")).toBe(false);
    expect(v.is(PlanMessageSchema, { type: "plan", file: "/p/plan.json" })).toBe(true);
    expect(v.is(PlanMessageSchema, { type: "plan" })).toBe(false);
    expect(v.is(RunPlanSchema, null)).toBe(false);
    expect(v.is(RunPlanSchema, { runId: "x" })).toBe(false);
  });
});
