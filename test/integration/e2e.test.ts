import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runE2eCommand, type E2eFlags } from "../../src/commands/e2e-run.js";
import { isEnvoywasmError, UsageError } from "../../src/errors.js";
import { freePort, REPO, removeTempDirs, runCli } from "../helpers/cli.js";
import { parseDocument, stringify } from "yaml";
import { newProject, statusOf, stopProjects, type Project } from "../helpers/project.js";
import { request } from "../helpers/run.js";

/**
 * `envoywasm test`'s e2e cases, run in this process (as `envoywasm test`
 * will run them) against real Go builds, a real Envoy and real HTTP. One
 * Envoy start per scenario; the projects are shared.
 */

afterAll(async () => {
  await stopProjects();
  await removeTempDirs();
});

let auth: Project;
let addHeader: Project;

beforeAll(async () => {
  [auth, addHeader] = await Promise.all([newProject("auth", "e2e-auth"), newProject("add-header", "e2e-add")]);
  for (const [p, template] of [
    [auth, "auth"],
    [addHeader, "add-header"],
  ] as const) {
    mkdirSync(path.join(p.dir, "e2e"), { recursive: true });
    copyFileSync(path.join(REPO, "templates", "e2e", `${template}.yaml`), path.join(p.dir, "e2e", `${template}.yaml`));
  }
});

/** Runs the command as `envoywasm test` will, with its stdout and stderr, and what it threw. */
async function run(p: Project, flags: E2eFlags = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const writeOut = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => (err.push(String(chunk)), true)) as typeof process.stderr.write;
  let error: unknown;
  let result: { passed: number; failed: number } | undefined;
  try {
    result = await runE2eCommand(flags, { cwd: p.dir });
  } catch (e) {
    error = e;
  } finally {
    process.stdout.write = writeOut;
    process.stderr.write = writeErr;
  }
  // eslint-disable-next-line no-control-regex
  const plain = (s: string[]) => s.join("").replace(/\x1b\[[0-9;]*m/g, "");
  return { stdout: plain(out), stderr: plain(err), error, result, exitCode: error === undefined ? 0 : isEnvoywasmError(error) ? error.exitCode : 70 };
}

const KINDS = `cases:
  - name: status passes
    request: { path: /hello, headers: { "{config.header}": "{config.value}" } }
    expect: { status: 200 }
  - name: status fails
    request: { path: /hello }
    expect: { status: 200 }
  - name: headers pass
    request: { path: /hello }
    expect:
      headers: { content-type: "/^text\\\\/plain/", x-absent: null }
  - name: headers fail
    request: { path: /hello }
    expect:
      headers: { content-type: "application/json", server: null }
  - name: body passes
    request: { path: /hello }
    expect: { body: { contains: "forbidden: missing or wrong {config.header}" } }
  - name: body fails
    request: { path: /hello }
    expect: { body: "forbidden\\nsomething else\\n" }
  - name: json body fails
    request: { path: /hello }
    expect: { body: { json: { ok: true } } }
  - name: logs pass
    request: { method: POST, path: /hello, body: "payload", headers: { "{config.header}": "{config.value}" } }
    expect: { logs: ["/^allowed$/"], noLogs: ["denied"] }
  - name: logs fail
    request: { path: /hello }
    expect: { logs: ["allowed"], noLogs: ["/denied: missing/"] }
`;

describe("envoywasm test: e2e cases against a real Envoy", () => {
  it("runs the template's cases and each kind of expectation, telling each failure with its curl line, a diff and the plugin's records; JUnit", async () => {
    writeFileSync(path.join(auth.dir, "e2e", "kinds.yaml"), KINDS);
    // A folder given to --junit is refused before any case runs.
    const folder = await run(auth, { junit: "e2e" });
    expect(folder.error).toBeInstanceOf(UsageError);
    expect((folder.error as Error).message).toBe("--junit e2e is a folder: give the file to write, e.g. --junit e2e/e2e.xml");
    expect(folder.stderr).not.toContain("starting");
    const r = await run(auth, { junit: "results.xml" });
    expect(r.exitCode, r.stderr).toBe(1);
    expect((r.error as Error).message).toBe("5 of 12 e2e cases failed");
    // A line per case on stderr, in file order (auth.yaml before kinds.yaml).
    const progress = r.stderr.split("\n").filter((l) => /^[✔✘] /.test(l));
    expect(progress.map((l) => l.replace(/ \(\d+ ms\)$/, ""))).toEqual([
      "✔ e2e/auth.yaml: denies a request without the key",
      "✔ e2e/auth.yaml: denies a request with a wrong key",
      "✔ e2e/auth.yaml: lets a request with the key through",
      "✔ e2e/kinds.yaml: status passes",
      "✘ e2e/kinds.yaml: status fails",
      "✔ e2e/kinds.yaml: headers pass",
      "✘ e2e/kinds.yaml: headers fail",
      "✔ e2e/kinds.yaml: body passes",
      "✘ e2e/kinds.yaml: body fails",
      "✘ e2e/kinds.yaml: json body fails",
      "✔ e2e/kinds.yaml: logs pass",
      "✘ e2e/kinds.yaml: logs fail",
    ]);
    const out = r.stdout;
    expect(out).toMatch(/e2e: 7 passed, 5 failed\n$/);
    // The request as curl, on the test run's own port (not the project's), and why it failed.
    const status = section(out, "status fails");
    expect(status).toMatch(/^ {2}curl -i http:\/\/127\.0\.0\.1:(\d+)\/hello$/m);
    expect(Number(/127\.0\.0\.1:(\d+)/.exec(status)![1])).not.toBe(auth.ports.listener);
    expect(status).toContain("the test run's Envoy");
    expect(status).toContain("status: expected 200, got 403");
    expect(status).toContain("[info] denied: missing x-api-key header");
    expect(section(out, "headers fail")).toContain(
      [
        "headers: 2 differ (- expected, + got)",
        "    - content-type: application/json",
        "    + content-type: text/plain",
        "    - server: (absent)",
        "    + server: envoy",
      ].join("\n"),
    );
    expect(section(out, "body fails")).toContain(
      ["body: differs (- expected, + got)", "    - forbidden", "    - something else", "    + forbidden: missing or wrong x-api-key", "      "].join("\n"),
    );
    expect(section(out, "json body fails")).toContain("body: is not JSON");
    const logs = section(out, "logs fail");
    expect(logs).toContain('logs: no record of the plugin matches "allowed"');
    expect(logs).toContain('noLogs: a record of the plugin matches "/denied: missing/"\n    + denied: missing x-api-key header');

    const xml = readFileSync(path.join(auth.dir, "results.xml"), "utf8");
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites /);
    expect(xml.match(/<testsuite /g)).toHaveLength(1);
    expect(xml).toMatch(/<testsuite name="envoywasm e2e \(Envoy \d+\.\d+\.\d+\)" tests="12" failures="5"/);
    expect(xml.match(/<testcase /g)).toHaveLength(12);
    expect(xml.match(/<failure /g)).toHaveLength(5);
    expect(xml).toContain(
      '<failure message="logs: no record of the plugin matches &quot;allowed&quot;; noLogs: a record of the plugin matches &quot;/denied: missing/&quot;"',
    );
    // Each request's records were taken once Envoy logged its access line (one per case, in the test run's Envoy log).
    expect(readFileSync(path.join(auth.dir, ".envoywasm", "test-run", "logs", "envoy.log"), "utf8").match(/envoywasm-e2e done \S+\n/g)).toHaveLength(12);
    // Nothing of the test run is left: its Envoy and backend stopped, and up's files never made.
    expect(existsSync(path.join(auth.dir, ".envoywasm", "state.json"))).toBe(false);
    expect(existsSync(path.join(auth.dir, ".envoywasm", "test-run", "state.json"))).toBe(false);
  });

  it("runs beside a running `up -d` of the same project, which stays healthy; --case selects, --json", async () => {
    const up = await runCli(["up", "-d"], { cwd: auth.dir });
    expect(up.exitCode, up.stderr).toBe(0);
    try {
      const r = await run(auth, { json: true, case: "auth" });
      expect(r.exitCode, `${r.stderr}\n${r.stdout}\n${String(r.error)}`).toBe(0);
      const json = JSON.parse(r.stdout) as {
        passed: number;
        failed: number;
        runs: { envoy: { version: string }; passed: number; cases: { name: string; ok: boolean; status: number; curl: string }[] }[];
      };
      expect(json.passed).toBe(3);
      expect(json.failed).toBe(0);
      expect(json.runs).toHaveLength(1);
      expect(json.runs[0]!.passed).toBe(3);
      expect(json.runs[0]!.cases.map((c) => [c.name, c.ok, c.status])).toEqual([
        ["denies a request without the key", true, 403],
        ["denies a request with a wrong key", true, 403],
        ["lets a request with the key through", true, 200],
      ]);
      expect(json.runs[0]!.cases[0]!.curl).not.toContain(`:${auth.ports.listener}/`);
      const answer = await request(auth.ports.listener, { headers: { "x-api-key": "let-me-in" } });
      expect(answer.status).toBe(200);
      const status = await statusOf(auth);
      expect(status.running).toBe(true);
      expect(status.services.every((s) => s.running)).toBe(true);
    } finally {
      expect((await runCli(["down"], { cwd: auth.dir })).exitCode).toBe(0);
    }
  });

  it("the add-header template's cases pass on two Envoy versions in one run (1.36.2 installed when missing), and fail once the Wasm filter is removed from envoy.yaml", async () => {
    // 1.36.2 by version (the first test run installs it into the run's envoywasm cache, whose Envoys live in .test-cache/envoy), the run's own Envoy by path.
    const pass = await run(addHeader, { envoy: `1.36.2, ${process.env.ENVOYWASM_TEST_ENVOY!}`, junit: "versions.xml" });
    expect(pass.exitCode, `${pass.stderr}\n${pass.stdout}\n${String(pass.error)}`).toBe(0);
    const other = /^e2e \(Envoy 1\.36\.2\): 1 passed, 0 failed\ne2e \(Envoy (\d+\.\d+\.\d+)\): 1 passed, 0 failed\n$/.exec(pass.stdout);
    expect(other, pass.stdout).not.toBeNull();
    expect(other![1]).not.toBe("1.36.2");
    expect(existsSync(path.join(process.env.ENVOYWASM_HOME!, "envoy", "1.36.2", "bin", "envoy"))).toBe(true);
    // One Envoy start per version, in the order given.
    expect(pass.stderr.match(/starting Envoy \S+ and the backend/g)).toEqual([
      "starting Envoy 1.36.2 and the backend",
      `starting Envoy ${other![1]} and the backend`,
    ]);
    const xml = readFileSync(path.join(addHeader.dir, "versions.xml"), "utf8");
    expect(xml).toMatch(/<testsuites name="e2e-add e2e" tests="2" failures="0" errors="0"/);
    const suites = [...xml.matchAll(/<testsuite name="([^"]+)" tests="(\d+)" failures="(\d+)"[^>]*>([\s\S]*?)<\/testsuite>/g)];
    expect(suites.map((m) => [m[1], m[2], m[3], m[4]!.match(/<testcase /g)?.length])).toEqual([
      ["envoywasm e2e (Envoy 1.36.2)", "1", "0", 1],
      [`envoywasm e2e (Envoy ${other![1]})`, "1", "0", 1],
    ]);

    const file = path.join(addHeader.dir, "envoy.yaml");
    const yaml = readFileSync(file, "utf8");
    const cases = path.join(addHeader.dir, "e2e", "add-header.yaml");
    const template = readFileSync(cases, "utf8");
    try {
      // Without the filter, the template's cases name a plugin configuration that is gone: told before anything starts.
      const config = parseDocument(yaml).toJS() as {
        static_resources: {
          listeners: {
            name: string;
            address: { socket_address: { port_value: number } };
            filter_chains: { filters: { typed_config: { http_filters: unknown[] } }[] }[];
          }[];
        };
      };
      const listeners = config.static_resources.listeners;
      const withPlugin = structuredClone(listeners[0]!);
      listeners[0]!.filter_chains[0]!.filters[0]!.typed_config.http_filters.shift();
      writeFileSync(file, stringify(config));
      const refused = await run(addHeader);
      expect(refused.exitCode, String(refused.error)).toBe(2);
      expect((refused.error as Error).message).toMatch(
        /^e2e\/add-header\.yaml:\d+:\d+: cases\[0\]\.expect\.headers\.\{config\.header\}: \{config\.header\}: listener listener of envoy\.yaml runs no Wasm filter/,
      );
      // The same cases with the values written out fail against the listener without the filter (the plugin still
      // built and loaded, by a second listener: envoywasm builds only what envoy.yaml loads).
      listeners.push({
        ...withPlugin,
        name: "with-plugin",
        address: { socket_address: { ...withPlugin.address.socket_address, port_value: await freePort() } },
      });
      writeFileSync(file, stringify(config));
      writeFileSync(
        cases,
        template
          .replaceAll("{config.header}", "x-envoywasm")
          .replaceAll("{config.value}", "hello from e2e-add")
          .replace("path: /hello", "path: /hello\n      listener: listener"),
      );
      const fail = await run(addHeader);
      expect(fail.exitCode, `${fail.stderr}\n${String(fail.error)}`).toBe(1);
      expect(fail.stdout).toContain("headers: 1 differ (- expected, + got)\n    - x-envoywasm: hello from e2e-add\n    + x-envoywasm: (absent)");
      expect(fail.stdout).toContain('logs: no record of the plugin matches "added response header x-envoywasm"');
      expect(fail.stdout).toContain("the plugin logged nothing during this request");
      expect(fail.stdout).toMatch(/e2e: 0 passed, 1 failed\n$/);
    } finally {
      writeFileSync(file, yaml);
      writeFileSync(cases, template);
    }
  });

  it.skipIf(process.env.ENVOYWASM_TEST_IMAGE === undefined)("--docker runs the cases in the Docker runtime, in containers of the test run's own", async () => {
    const image = process.env.ENVOYWASM_TEST_IMAGE!;
    const r = await run(auth, { docker: true, envoyImage: image, pull: "never", case: "auth", json: true });
    expect(r.exitCode, `${r.stderr}\n${String(r.error)}`).toBe(0);
    const json = JSON.parse(r.stdout) as { runs: { envoy: { image?: string }; passed: number; failed: number }[] };
    expect(json.runs.map((run) => [run.envoy.image, run.passed, run.failed])).toEqual([[image, 3, 0]]);
    // The access lines came through the container's log stream too.
    expect(readFileSync(path.join(auth.dir, ".envoywasm", "test-run", "logs", "envoy.log"), "utf8").match(/envoywasm-e2e done \S+\n/g)).toHaveLength(3);
    const left = execFileSync("docker", ["ps", "-aq", "--filter", `label=envoywasm.project=${path.join(auth.dir, ".envoywasm", "test-run")}`], {
      encoding: "utf8",
    });
    expect(left.trim()).toBe("");
  });

  it("refuses a bad case file in one line at file:line:col (exit 2), before anything starts", async () => {
    const bad = path.join(auth.dir, "e2e", "zz-bad.yaml");
    const cases: [string, RegExp][] = [
      [
        "cases:\n  - name: a\n    request: { path: /x }\n    expect: { staus: 200 }\n",
        /^e2e\/zz-bad\.yaml:4:15: cases\[0\]\.expect\.staus: unknown key \(did you mean "status"\?\)/,
      ],
      ["cases:\n  - name: a\n    request: { method: GET }\n", /^e2e\/zz-bad\.yaml:3:14: cases\[0\]\.request\.path: is required/],
      [
        "cases:\n  - name: a\n    request: { path: /x, listener: listnr }\n",
        /^e2e\/zz-bad\.yaml:3:36: cases\[0\]\.request\.listener: envoy\.yaml has no listener "listnr" \(did you mean "listener"\?\)/,
      ],
    ];
    try {
      for (const [text, message] of cases) {
        writeFileSync(bad, text);
        const r = await run(auth);
        expect(r.exitCode, String(r.error)).toBe(2);
        expect((r.error as Error).message).toMatch(message);
        expect((r.error as Error).message).not.toContain("\n");
        expect(r.stderr).not.toContain("starting");
      }
      // With several Envoys too: before any is installed (PyPI has no 9.9.9) or started.
      const several = await run(auth, { envoy: "9.9.9,1.36.2" });
      expect(several.exitCode, String(several.error)).toBe(2);
      expect(several.stderr).not.toContain("installing");
    } finally {
      rmSync(bad);
    }
  });
});

/** One failed case's text, from its FAIL line to the next. */
function section(out: string, name: string): string {
  const start = out.indexOf(`: ${name}\n`);
  expect(start, `no failure for ${name} in:\n${out}`).toBeGreaterThan(0);
  const next = out.indexOf("\nFAIL ", start);
  return out.slice(start, next === -1 ? undefined : next);
}
