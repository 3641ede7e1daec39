import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as v from "valibot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UserError } from "../../src/errors.js";
import { ProcessIdentitySchema } from "../../src/platform/identity.js";
import { issueLine, parseRecord } from "../../src/platform/records.js";
import { layoutRecordFile, readLayout, readStamp } from "../../src/build/stamp.js";
import { readRunPlan, RunPlanSchema, type RunPlan } from "../../src/run/plan.js";
import { PreparedReloadSchema } from "../../src/run/reload/prepared.js";
import { DaemonMessageSchema, PlanMessageSchema } from "../../src/run/supervisor/messages.js";
import { readLock } from "../../src/run/supervisor/lock.js";
import { readLastRun, readState, type RunState } from "../../src/run/supervisor/state.js";
import { readShipFile } from "../../src/ship/ship-record.js";
import { parseProjectConfig, type Project } from "../../src/project/config.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "envoywasm-records-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const me = { pid: process.pid, startTime: "123", command: "node x" };

const STATE: RunState = {
  version: 2,
  runId: "r1",
  supervisor: me,
  mode: "detached",
  runtime: "native",
  startedAt: "2025-01-01T00:00:00.000Z",
  envoy: { version: "1.40.0", path: "/bin/envoy" },
  admin: 9901,
  listeners: [{ name: "main", port: 8085 }],
  services: [{ name: "envoy", ports: [8085], process: me }],
  modules: [{ plugin: "plugin", wasm: "/p/build/x.wasm", sha256: "ab" }],
  watch: false,
  controlSocket: "/p/.envoywasm/control.sock",
};

const PLAN: RunPlan = {
  runId: "r1",
  root: "/p",
  name: "x",
  logsDir: "/p/.envoywasm/logs",
  stateFile: "/p/.envoywasm/state.json",
  lastRunFile: "/p/.envoywasm/last-run.json",
  lockFile: "/p/.envoywasm/run.lock",
  controlSocket: "/p/.envoywasm/control.sock",
  runtime: { kind: "native" },
  services: [{ name: "envoy", file: "/bin/envoy", args: ["-c", "x"], cwd: "/p", env: {}, ports: [8085], ready: { kind: "envoy-admin", port: 9901 } }],
  envoy: { version: "1.40.0" },
  admin: 9901,
  listeners: [{ name: "main", port: 8085 }],
  ecds: [],
  modules: [],
  failurePolicy: "FAIL_CLOSED",
  readyTimeoutMs: 1000,
  graceMs: 1000,
  watch: false,
  live: { sources: { dirs: [], files: [] }, builtModules: [], skeletonHash: "h" },
};

describe("one line for what is wrong", () => {
  it("names the field, what it must be and what it holds", () => {
    const line = (schema: v.GenericSchema, value: unknown) => {
      const parsed = parseRecord(schema, value);
      return parsed.ok ? "ok" : parsed.problem;
    };
    expect(line(ProcessIdentitySchema, null)).toBe("it must be an object (got null)");
    expect(line(ProcessIdentitySchema, { pid: "12", startTime: "", command: "" })).toBe('pid must be a number (got "12")');
    expect(line(ProcessIdentitySchema, { pid: -3, startTime: "", command: "" })).toBe("pid must be a whole number above 0 (got -3)");
    expect(line(ProcessIdentitySchema, { pid: 3, command: "" })).toBe("startTime is missing");
    expect(line(RunPlanSchema, { ...PLAN, runtime: { kind: "podman" } })).toBe('runtime.kind must be "native" or "docker" (got "podman")');
    expect(line(RunPlanSchema, { ...PLAN, services: [{ ...PLAN.services[0], ready: { kind: "http", port: 70000 } }] })).toBe(
      "services.0.ready.port must be a port number (got 70000)",
    );
    expect(line(RunPlanSchema, PLAN)).toBe("ok");
    for (const issue of v.safeParse(RunPlanSchema, { services: [{}] }).issues ?? []) expect(issueLine(issue)).not.toContain("\n");
  });
});

describe("run state and last run", () => {
  it("reads back what the supervisor wrote", async () => {
    const file = path.join(dir, "state.json");
    await writeFile(file, JSON.stringify(STATE));
    expect(await readState(file)).toEqual(STATE);
  });

  it("refuses a state file with a field of the wrong type in one line, and removes it", async () => {
    const file = path.join(dir, "state.json");
    // Before, only that services was a list was checked: a service's ports were taken on trust.
    await writeFile(file, JSON.stringify({ ...STATE, services: [{ name: "envoy", ports: "8085" }] }));
    const warnings: string[] = [];
    expect(await readState(file, (w) => warnings.push(w))).toBeUndefined();
    expect(warnings).toEqual([
      `ignored ${file} is not a file this version of envoywasm wrote: services.0.ports must be a list (got "8085") (treated as absent, and removed)`,
    ]);
    expect(existsSync(file)).toBe(false);
  });

  it("refuses a supervisor identity that is not one, and a file that is not JSON", async () => {
    const file = path.join(dir, "state.json");
    await writeFile(file, JSON.stringify({ ...STATE, supervisor: { ...me, pid: 1.5 } }));
    const warnings: string[] = [];
    expect(await readState(file, (w) => warnings.push(w))).toBeUndefined();
    await writeFile(file, "{");
    expect(await readState(file, (w) => warnings.push(w))).toBeUndefined();
    expect(warnings[0]).toContain("wrote: supervisor.pid must be a whole number above 0 (got 1.5)");
    expect(warnings[1]).toMatch(/wrote: it is not JSON \(.+\) \(treated as absent, and removed\)$/);
    expect(await readState(path.join(dir, "none.json"), (w) => warnings.push(w))).toBeUndefined();
    expect(warnings).toHaveLength(2);
  });

  it("refuses a last run whose outcome or exit is not one envoywasm writes", async () => {
    const file = path.join(dir, "last-run.json");
    const lastRun = {
      runId: "r1",
      startedAt: "a",
      endedAt: "b",
      mode: "foreground",
      runtime: "native",
      outcome: "crashed",
      exit: { code: null, signal: "SIGKILL" },
    };
    await writeFile(file, JSON.stringify(lastRun));
    expect(await readLastRun(file)).toEqual(lastRun);
    const warnings: string[] = [];
    await writeFile(file, JSON.stringify({ ...lastRun, exit: { code: "1", signal: null } }));
    expect(await readLastRun(file, (w) => warnings.push(w))).toBeUndefined();
    await writeFile(file, JSON.stringify({ ...lastRun, outcome: "exploded" }));
    expect(await readLastRun(file, (w) => warnings.push(w))).toBeUndefined();
    await writeFile(file, JSON.stringify({ ...lastRun, exit: { code: null, signal: "KILL" } }));
    expect(await readLastRun(file, (w) => warnings.push(w))).toBeUndefined();
    expect(warnings[0]).toContain('wrote: exit.code must be a number (got "1")');
    expect(warnings[1]).toContain('wrote: outcome must be "stopped" or "crashed" or "failed" (got "exploded")');
    expect(warnings[2]).toContain('wrote: exit.signal must be a signal name such as SIGTERM (got "KILL")');
  });
});

describe("the lock's owner", () => {
  it("a lock that does not name a process is no owner (stale)", async () => {
    const file = path.join(dir, "run.lock");
    await writeFile(file, JSON.stringify({ owner: { ...me, pid: "1" }, runId: "r", since: "now" }));
    expect(await readLock(file)).toBeUndefined();
    await writeFile(file, JSON.stringify({ owner: me, runId: "r", since: "now" }));
    expect(await readLock(file)).toEqual({ owner: me, runId: "r", since: "now" });
  });
});

describe("the run plan of up -d", () => {
  it("reads a good plan, and refuses a bad one with the file and the field", async () => {
    const file = path.join(dir, "plan.json");
    await writeFile(file, JSON.stringify(PLAN));
    expect(await readRunPlan(file)).toEqual(PLAN);
    await writeFile(file, JSON.stringify({ ...PLAN, failurePolicy: "FAIL_SOMETIMES" }));
    const error = await readRunPlan(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toBe(
      `${file} is not a file this version of envoywasm wrote: failurePolicy must be "FAIL_CLOSED" or "FAIL_OPEN" or "FAIL_RELOAD" (got "FAIL_SOMETIMES")`,
    );
  });

  it("IPC messages: only well-formed ones count", () => {
    expect(v.is(DaemonMessageSchema, { type: "failed", message: "m", hint: 3 })).toBe(false);
    expect(v.is(PlanMessageSchema, { type: "plan", file: 3 })).toBe(false);
  });
});

describe("a prepared reload from another process", () => {
  const change = {
    ok: true,
    plugins: [{ dir: "plugin", wasmRelative: "build/x.wasm", sha256: "ab", upToDate: false, warnings: [] }],
    buildMs: 1,
    derived: { text: "", skeletonHash: "h", resources: [{ name: "f", file: "/p/.envoywasm/run/f.yaml", dir: "/p/.envoywasm/run", text: "", version: "1" }] },
    ecds: [],
    modules: [],
    envoy: { ports: [], listeners: [], display: "envoy.yaml" },
    paths: { run: "/p/.envoywasm/run", modules: "/p/.envoywasm/run/modules" },
  };
  it("must name every path it writes as a string (the .envoywasm check needs them)", () => {
    expect(parseRecord(PreparedReloadSchema, change).ok).toBe(true);
    const bad = parseRecord(PreparedReloadSchema, {
      ...change,
      derived: { ...change.derived, resources: [{ name: "f", file: 5, dir: "/x", text: "", version: "1" }] },
    });
    expect(bad).toEqual({ ok: false, problem: "derived.resources.0.file must be a string (got 5)" });
    expect(parseRecord(PreparedReloadSchema, { ok: false, message: "m", build: "yes" })).toEqual({ ok: false, problem: 'build must be true (got "yes")' });
  });
});

describe("build stamps and the layout record", () => {
  it("a broken stamp or layout is no stamp, never a crash", async () => {
    const stamp = path.join(dir, "plugin.json");
    await writeFile(stamp, JSON.stringify({ key: "k", wasm: "/w", bytes: "1", mtimeMs: 1 }));
    expect(await readStamp(stamp)).toBeUndefined();
    await writeFile(stamp, "null");
    expect(await readStamp(stamp)).toBeUndefined();
    await writeFile(stamp, JSON.stringify({ key: "k", wasm: "/w", bytes: 1, mtimeMs: 1, sha256: "ab" }));
    expect(await readStamp(stamp)).toEqual({ key: "k", wasm: "/w", bytes: 1, mtimeMs: 1, sha256: "ab" });

    const layout = layoutRecordFile(dir);
    await mkdir(path.dirname(layout), { recursive: true });
    const record = { version: 1, envoywasm: "0.1.0", toolchain: "go", configs: [], plugins: [] };
    await writeFile(layout, JSON.stringify(record));
    expect(await readLayout(dir, "0.1.0")).toEqual(record);
    expect(await readLayout(dir, "0.2.0")).toBeUndefined();
    for (const broken of [
      { ...record, toolchain: 5 },
      { ...record, configs: [["only-a-file"]] },
      { ...record, plugins: [{ dir: "p" }] },
    ]) {
      await writeFile(layout, JSON.stringify(broken));
      expect(await readLayout(dir, "0.1.0")).toBeUndefined();
    }
  });
});

describe("the ship record", () => {
  const project = (): Project => ({ root: dir, file: path.join(dir, "envoywasm.yaml"), config: parseProjectConfig("name: x\n"), legacy: [] });
  const digest = `sha256:${"a".repeat(64)}`;
  it("reads the pushes, and refuses a record with a bad digest in one line", async () => {
    await mkdir(path.join(dir, ".envoywasm"), { recursive: true });
    const file = path.join(dir, ".envoywasm", "ship.json");
    expect(await readShipFile(project())).toEqual({});
    await writeFile(file, JSON.stringify({ plugin: { image: "r/x:1", digest, moduleSha256: "m", pushedAt: "t" } }));
    expect(await readShipFile(project())).toEqual({ plugin: { image: "r/x:1", digest, moduleSha256: "m", pushedAt: "t" } });
    await writeFile(file, JSON.stringify({ plugin: { image: "r/x:1", digest: "sha256:nope" } }));
    const error = await readShipFile(project()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toBe(
      '.envoywasm/ship.json is not a file this version of envoywasm wrote: plugin.digest must be a sha256:… digest (got "sha256:nope")',
    );
    expect((error as UserError).hint).toBe("delete it and run `envoywasm push` again");
  });
});
