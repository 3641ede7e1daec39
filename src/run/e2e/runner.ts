import { randomBytes, randomUUID } from "node:crypto";
import http from "node:http";
import path from "node:path";
import { CancelledError, UserError } from "../../errors.js";
import { RecordAssembler, type LogRecord } from "../../envoy/log-records.js";
import { delay } from "../../platform/time.js";
import type { PullPolicy } from "../../platform/docker.js";
import { loadProject, type Project } from "../../project/config.js";
import { readEnvoyConfig } from "../../project/load.js";
import { projectPaths, type ProjectPaths } from "../../project/paths.js";
import { preparePlan } from "../prepare.js";
import { asTheUserWroteIt, remapPorts, startingOnFreePorts } from "../side-config.js";
import { baseIdFor, controlSocketPath } from "../run-ids.js";
import { liveRun } from "../supervisor/state.js";
import { Supervisor } from "../supervisor/supervise.js";
import type { RunOutcome } from "../supervisor/records.js";
import { caseContext, loadCases, type E2eCase } from "./cases.js";
import { addDoneLines, Completions, DONE_TIMEOUT_MS, FLUSH_ARGS } from "./completion.js";
import { check, curlFor, pluginRecords, type Answer, type Mismatch, type PluginRecord } from "./expect.js";

/**
 * `envoywasm test`'s cases against a real Envoy: the project built as `up`
 * builds it, then an Envoy and backend of the test run's own, from
 * envoy.yaml with every port moved to a free one, so it runs beside an `up`
 * of the same project without touching it (no lock; its files under
 * .envoywasm/test-run/). One Envoy for all the cases, one request at a time;
 * the Supervisor stops everything at the end, on Ctrl-C, or if this process dies.
 */

export interface E2eOptions {
  cwd: string;
  /** Only the cases whose name or file this selects (a `*` glob, else part of a name). */
  cases?: string;
  envoy?: string;
  /** In the Docker runtime (also: runtime: docker in envoywasm.yaml), with this image and pull policy. */
  docker?: boolean;
  envoyImage?: string;
  pull?: PullPolicy;
  onCase?: (result: CaseResult) => void;
  onPhase?: (text: string) => void;
}

export interface CaseResult {
  file: string;
  line: number;
  name: string;
  ok: boolean;
  ms: number;
  request: E2eCase["request"] & { url: string };
  curl: string;
  answer?: Answer;
  mismatches: Mismatch[];
  /** A request that got no answer (refused, timed out, Envoy gone). */
  error?: string;
  records: PluginRecord[];
}

export interface E2eResult {
  /** The project's name (envoywasm.yaml). */
  project: string;
  envoy: { version: string; path?: string; image?: string };
  cases: CaseResult[];
  passed: number;
  failed: number;
  ms: number;
}

/** How long after a request that got no answer its lines may still arrive. */
const SETTLE_MS = 100;
const REQUEST_TIMEOUT_MS = 15_000;

export async function runE2e(options: E2eOptions): Promise<E2eResult> {
  const started = performance.now();
  const project = await loadProject(options.cwd);
  const bootstrap = await readEnvoyConfig(project);
  // Every case file is checked before anything is built or started.
  const cases = await loadCases(project.root, caseContext(bootstrap), options.cases);

  const paths = testRunPaths(project);
  // Its containers are labelled with its own folder, so neither run's sweep removes the other's.
  const { state: running } = await liveRun(paths, paths.state);
  if (running !== undefined)
    throw new UserError(`another envoywasm test is running in this project (pid ${running.supervisor.pid})`, { hint: "wait for it to end, then run again" });

  const remapped = await remapPorts(project, bootstrap, paths.state);
  const docker = options.docker ?? project.config.runtime === "docker";
  const runtime = docker ? "docker" : "native";
  const testProject: Project = { ...project, config: { ...project.config, runtime, envoy: { ...project.config.envoy, config: remapped.config } } };
  const runId = `test-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
  const prepared = await asTheUserWroteIt(remapped.config, bootstrap.display, () =>
    preparePlan(testProject, paths, runId, {
      cwd: options.cwd,
      project: testProject,
      envoy: options.envoy,
      docker,
      envoyImage: options.envoyImage,
      pull: options.pull,
      baseId: baseIdFor(project.root) + 2,
      graceMs: 3_000,
      onPhase: options.onPhase,
    }),
  );
  const base = prepared.plan;
  const plan = {
    ...base,
    controlSocket: controlSocketPath(paths.state),
    watch: false,
    runtime: base.runtime.kind === "docker" ? { ...base.runtime, scope: paths.state } : base.runtime,
    services: base.services.map((s) => (s.name === "envoy" ? { ...s, args: [...s.args, ...FLUSH_ARGS] } : s)),
  };
  await addDoneLines(path.join(paths.run, "envoy.yaml"));
  const listenerPort = new Map(plan.listeners.map((l) => [l.name, l.port]));

  const records: LogRecord[] = [];
  const assembler = new RecordAssembler(project.root, (r) => records.push(r));
  let ready!: () => void;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  const sup = new Supervisor(plan, { mode: "foreground", colour: false, onReady: () => ready(), onProgress: options.onPhase });
  const completions = new Completions();
  sup.listen((service, line) => {
    if (service !== "envoy") return;
    // Our access line is not a record: pushed, it would read as the line before's continuation.
    if (!completions.line(line)) assembler.push(service, line, Date.now());
  });
  let outcome: RunOutcome | undefined;
  const supervising = sup.run().then((o) => (outcome = o));
  /** How the run ended, once it has (read through a call: it is set by the supervisor's promise). */
  const ended = (): RunOutcome | undefined => outcome;
  const results: CaseResult[] = [];
  try {
    options.onPhase?.(startingOnFreePorts(`Envoy ${plan.envoy.version}`, plan.services));
    await Promise.race([isReady, supervising]);
    for (const c of cases) {
      if (ended() !== undefined) break;
      assembler.flush();
      records.length = 0;
      const result = await runCase(
        c,
        listenerPort.get(c.listener)!,
        (id) => completions.wait(id),
        () => {
          assembler.flush();
          return records.splice(0);
        },
        () => assembler.inPanic,
      );
      if (ended()?.kind === "stopped") break;
      results.push(result);
      options.onCase?.(result);
    }
    const early = ended();
    if (early !== undefined) throw endedEarly(early, results.length === 0 ? "before it was ready" : `after case ${results.length} of ${cases.length}`);
  } finally {
    sup.stop();
    await supervising.catch(() => {});
  }
  const passed = results.filter((r) => r.ok).length;
  return {
    project: project.config.name,
    envoy: { version: plan.envoy.version, path: plan.envoy.path, image: plan.envoy.image },
    cases: results,
    passed,
    failed: results.length - passed,
    ms: Math.round(performance.now() - started),
  };
}

function endedEarly(outcome: RunOutcome, when: string): UserError | CancelledError {
  if (outcome.kind === "stopped") return new CancelledError(outcome.signal === "SIGINT" ? "SIGINT" : "SIGTERM");
  const last = outcome.lastLines.slice(-5).join("\n  ");
  return new UserError(
    `the test run's ${outcome.service} stopped ${when}${outcome.diagnosis === undefined ? "" : `: ${outcome.diagnosis.message}`}${last === "" ? "" : `\n  ${last}`}`,
    {
      hint: outcome.diagnosis?.hint ?? "its output is in .envoywasm/test-run/logs/",
    },
  );
}

async function runCase(
  c: E2eCase,
  port: number,
  completed: (requestId: string) => Promise<boolean>,
  takeRecords: () => LogRecord[],
  inPanic: () => boolean,
): Promise<CaseResult> {
  const t = performance.now();
  const url = `http://127.0.0.1:${port}${c.request.path}`;
  // The access line names the request by its id: the case's own x-request-id, else one of ours (Envoy keeps a caller's).
  const given = Object.entries(c.request.headers).find(([k]) => k.toLowerCase() === "x-request-id")?.[1];
  const requestId = given ?? randomUUID();
  const logged = completed(requestId);
  let answer: Answer | undefined;
  let error: string | undefined;
  try {
    answer = await send(port, { ...c.request, headers: given === undefined ? { "x-request-id": requestId, ...c.request.headers } : c.request.headers });
  } catch (e) {
    error = `no answer: ${(e as Error).message}`;
  }
  let complete = true;
  if (answer === undefined) await delay(SETTLE_MS);
  else complete = await logged;
  // A panic's fragments come one line each: let it finish.
  for (let i = 0; i < 10 && inPanic(); i++) await delay(50);
  const records = pluginRecords(takeRecords());
  const mismatches = answer === undefined ? [] : check(c, answer, records);
  if (!complete)
    for (const m of mismatches.filter((m) => m.what === "logs"))
      m.detail.push(`Envoy's access line for this request did not come within ${DONE_TIMEOUT_MS / 1000} s: the plugin's lines may not all have arrived`);
  return {
    file: c.file,
    line: c.line,
    name: c.name,
    ok: answer !== undefined && mismatches.length === 0,
    ms: Math.round(performance.now() - t),
    request: { ...c.request, url },
    curl: curlFor(c.request, url),
    answer,
    mismatches,
    error,
    records,
  };
}

function send(port: number, r: E2eCase["request"]): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path: r.path, method: r.method, headers: r.headers, agent: false, timeout: REQUEST_TIMEOUT_MS },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => {
          const headers: Record<string, string> = {};
          for (const [k, val] of Object.entries(res.headers)) if (val !== undefined) headers[k.toLowerCase()] = Array.isArray(val) ? val.join(", ") : val;
          resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString("utf8") });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer in ${REQUEST_TIMEOUT_MS / 1000} s`)));
    req.on("error", reject);
    req.end(r.body);
  });
}

/** The test run's own files, apart from `up`'s: its state, logs, derived config, module copies and backend binary. */
export function testRunPaths(project: Project): ProjectPaths {
  return projectPaths(project, path.join(project.root, ".envoywasm", "test-run"));
}
