import { randomUUID } from "node:crypto";
import { execSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { removeTempDirs, runCli, spawnCli } from "../helpers/cli.js";
import { edit, newProject, runTryLine, statusOf, stopProjects, type Project } from "../helpers/project.js";
import { alive, expectAllStopped, request, waitFor } from "../helpers/run.js";

afterEach(stopProjects);
afterAll(removeTempDirs);

describe("envoywasm up -d / logs / down, end to end with the real Envoy and backend", () => {
  // Each template's own line for the probe's request: headers logs the request's headers (the probe among
  // them), the others log what they did (add-header at debug, auth's denial at info).
  const cases: { template: string; check: (p: Project, probe: string) => Promise<void>; line: (p: Project, probe: string) => string }[] = [
    {
      template: "headers",
      line: (_p, probe) => probe,
      check: async (p, probe) => {
        const res = await request(p.ports.listener, { headers: { "x-probe": probe } });
        expect(res.status).toBe(200);
        expect(res.body).toBe("hola mundo :)");
      },
    },
    {
      template: "add-header",
      line: (p) => `[${p.name} debug] added response header x-envoywasm: hello from ${p.name}`,
      check: async (p, probe) => {
        const res = await request(p.ports.listener, { headers: { "x-probe": probe } });
        expect(res.status).toBe(200);
        expect(res.body).toBe("hola mundo :)");
        expect(res.headers["x-envoywasm"]).toBe(`hello from ${p.name}`);
      },
    },
    {
      template: "auth",
      line: (p) => `[${p.name}] denied: missing x-api-key header (request id `,
      check: async (p, probe) => {
        const denied = await request(p.ports.listener, { headers: { "x-probe": `${probe}-denied` } });
        expect(denied.status).toBe(403);
        expect(denied.body).toContain("forbidden");
        const wrong = await request(p.ports.listener, { headers: { "x-api-key": "nope", "x-probe": `${probe}-wrong` } });
        expect(wrong.status).toBe(403);
        const allowed = await request(p.ports.listener, { headers: { "x-api-key": "let-me-in", "x-probe": probe } });
        expect(allowed.status).toBe(200);
        expect(allowed.body).toBe("hola mundo :)");
      },
    },
  ];

  for (const { template, check, line } of cases) {
    it(`${template}: up -d, its try: lines (its e2e cases' requests) as printed, a request through the plugin, its log line, down`, async () => {
      const p = await newProject(template);
      const up = await runCli(["up", "-d"], { cwd: p.dir });
      expect(up.exitCode, up.stderr).toBe(0);
      expect(up.stderr).toMatch(/ready in [\d.]+ (ms|s)/);
      const tries = up.stdout
        .split("\n")
        .filter((l) => l.trim().startsWith("try:"))
        .map((l) => l.replace(/^\s*try:\s*/, ""));
      // up suggests the requests of the project's e2e cases: each answers as its case expects.
      const cases = (parse(readFileSync(path.join(p.dir, "e2e", `${template}.yaml`), "utf8")) as { cases: { expect: { status: number } }[] }).cases;
      expect(tries.length).toBe(Math.min(3, cases.length));
      for (const [i, line] of tries.entries()) expect(await runTryLine(line)).toMatch(new RegExp(`^HTTP/1\\.1 ${cases[i]!.expect.status} `));

      const status = await statusOf(p);
      expect(status.running).toBe(true);
      expect(status.services.map((s) => [s.name, s.running])).toEqual([
        ["backend", true],
        ["envoy", true],
      ]);
      expect(status.services.find((s) => s.name === "envoy")!.health).toBe("LIVE");
      expect(status.listeners).toEqual([{ name: "listener", port: p.ports.listener }]);
      expect(status.modules).toEqual([{ plugin: "plugin", wasm: `build/${p.name}.wasm`, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);

      const probe = randomUUID();
      await check(p, probe);

      // The template sets a downstream connection limit: Envoy does not warn at start that none is configured.
      expect(readFileSync(path.join(p.dir, ".envoywasm/logs/envoy.log"), "utf8")).toContain("starting main dispatch loop");
      expect(readFileSync(path.join(p.dir, ".envoywasm/logs/envoy.log"), "utf8")).not.toContain(
        "There is no configured limit to the number of allowed active downstream connections",
      );
      // The plugin's own line for this request: readable, without Envoy's prefix.
      const mark = line(p, probe);
      const wasmLines = async () => (await runCli(["logs", "--wasm"], { cwd: p.dir })).stdout.trim().split("\n");
      await waitFor(async () => (await wasmLines()).some((l) => l.includes(mark)), 10_000, "the plugin's line");
      const lines = await wasmLines();
      for (const l of lines) expect(l).toMatch(new RegExp(`^envoy   \\| \\d\\d:\\d\\d:\\d\\d\\.\\d{3} \\[${p.name}( \\w+)?\\] `));
      const mine = lines.filter((l) => l.includes(mark));
      if (template === "headers") expect(mine[0]).toContain("request headers:");
      expect(mine[0]).not.toContain("context.cc");
      // --verbose shows Envoy's full line.
      expect((await runCli(["logs", "--wasm", "--verbose", "--tail", "1"], { cwd: p.dir })).stdout).toContain("wasm log");
      expect((await runCli(["logs", "--wasm", "--since", "10m"], { cwd: p.dir })).stdout).toContain(mark);
      await new Promise((r) => setTimeout(r, 1100));
      expect((await runCli(["logs", "--wasm", "--since", "1s"], { cwd: p.dir })).stdout).not.toContain(mark);
      const backendLogs = await runCli(["logs", "backend", "--no-prefix", "--tail", "5"], { cwd: p.dir });
      expect(backendLogs.stdout).toMatch(/GET \/hello status=200/);
      expect(backendLogs.stdout).not.toContain("backend |");

      const down = await runCli(["down"], { cwd: p.dir });
      expect(down.exitCode).toBe(0);
      expect(down.stderr).toContain("stopped backend, envoy");
      await expectAllStopped(p.dir, Object.values(p.ports));
      // The logs outlive the run, and status says how it ended.
      expect((await runCli(["logs", "--wasm", "--no-prefix"], { cwd: p.dir })).stdout).toContain(mark);
      const after = await runCli(["status"], { cwd: p.dir });
      expect(after.stdout).toMatch(/^not running\nlast run \(detached, .*\): stopped by envoywasm down/);
      expect((await runCli(["down"], { cwd: p.dir })).stderr).toContain("nothing is running");
    });
  }

  it("up -d after a plugin change compiles it once and serves the new module", async () => {
    const p = await newProject("add-header");
    // A stand-in `go` that logs each call and runs the real one.
    const bin = path.join(path.dirname(p.dir), "bin");
    const log = path.join(path.dirname(p.dir), "go-calls.txt");
    mkdirSync(bin);
    writeFileSync(path.join(bin, "go"), `#!/bin/sh\necho "$*" >> ${log}\nexec ${path.join(execSync("go env GOROOT").toString().trim(), "bin", "go")} "$@"\n`, {
      mode: 0o755,
    });
    const env = { PATH: `${bin}:${process.env.PATH}` };
    expect((await runCli(["build"], { cwd: p.dir, env })).exitCode).toBe(0);
    const pluginBuilds = () =>
      readFileSync(log, "utf8")
        .split("\n")
        .filter((l) => l.includes("-buildmode=c-shared"));
    const before = pluginBuilds().length;
    edit(path.join(p.dir, "plugin/main.go"), /defaultValue(\s*)= "[^"]*"/, 'defaultValue$1= "changed since"');
    const up = await runCli(["up", "-d"], { cwd: p.dir, env });
    expect(up.exitCode, up.stderr).toBe(0);
    const after = pluginBuilds().slice(before);
    expect(after).toHaveLength(1);
    expect(after[0]).toMatch(/ -o \.\.\/build\/\.up-add-header\.wasm\.[0-9a-f]+\.tmp \.$/);
    expect(readFileSync(path.join(p.dir, "build/up-add-header.wasm")).includes("changed since")).toBe(true);
    expect((await request(p.ports.listener)).status).toBe(200);
  });

  it("Ctrl-C while up -d waits for the services stops them too (exit 130)", async () => {
    const p = await newProject("headers");
    const up = spawnCli(["up", "-d"], { cwd: p.dir });
    let err = "";
    up.stderr!.on("data", (c: Buffer) => (err += c.toString()));
    // The background supervisor writes its state before starting anything; Envoy then needs over a second.
    await waitFor(() => existsSync(path.join(p.dir, ".envoywasm/state.json")), 60_000, "state.json");
    expect(err).not.toContain("ready in");
    up.kill("SIGINT");
    expect((await up).exitCode).toBe(130);
    await expectAllStopped(p.dir, Object.values(p.ports));
  });

  it("refuses a second up while running, and logs -f follows new lines", async () => {
    const p = await newProject("headers");
    // A CA bundle of the user's (empty: Node loads it without a warning); NO_COLOR as the user has it (unset).
    const caBundle = path.join(p.dir, "extra-ca.pem");
    writeFileSync(caBundle, "");
    expect((await runCli(["up", "-d"], { cwd: p.dir, env: { NODE_EXTRA_CA_CERTS: caBundle, NO_COLOR: undefined } })).exitCode).toBe(0);
    const second = await runCli(["up", "-d"], { cwd: p.dir });
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toMatch(/this project is already running \(pid \d+/);
    // The supervisor runs with its own settings (run/supervisor-launch.ts); what it starts gets the environment `up` was given.
    const state = JSON.parse(readFileSync(path.join(p.dir, ".envoywasm/state.json"), "utf8")) as {
      supervisor: { pid: number };
      services: { process: { pid: number } }[];
    };
    const environ = (pid: number) => readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
    const supervisor = environ(state.supervisor.pid);
    // (glibc rewrites the variable in the process's memory as it reads it: only its start is certain.)
    expect(supervisor.some((e) => e.startsWith("GLIBC_TUNABLES=glibc.malloc.arena_max=1"))).toBe(true);
    expect(supervisor).toContain("NO_COLOR=1");
    expect(supervisor.filter((e) => e.startsWith("NODE_EXTRA_CA_CERTS="))).toEqual([]);
    expect(state.services).toHaveLength(2);
    for (const s of state.services) {
      const own = environ(s.process.pid);
      expect(own.filter((e) => /^(GLIBC_TUNABLES|NO_COLOR|ENVOYWASM_SUPERVISOR_ENV)=/.test(e))).toEqual([]);
      expect(own).toContain(`NODE_EXTRA_CA_CERTS=${caBundle}`);
    }

    const follow = spawnCli(["logs", "-f", "--wasm", "--tail", "0"], { cwd: p.dir });
    try {
      let seen = "";
      let err = "";
      follow.stdout!.on("data", (c: Buffer) => (seen += c.toString()));
      follow.stderr!.on("data", (c: Buffer) => (err += c.toString()));
      await waitFor(() => err.includes("following envoy, backend"), 30_000, "logs -f to follow");
      const probe = randomUUID();
      expect((await request(p.ports.listener, { headers: { "x-probe": probe } })).status).toBe(200);
      await waitFor(() => seen.includes(probe), 10_000, "the followed line");
    } finally {
      follow.kill("SIGINT");
    }
    const ended = await follow;
    expect(ended.exitCode).toBe(0);
    expect(ended.stderr).not.toContain("MaxListenersExceededWarning");
  });

  async function killSupervisor(p: Project): Promise<{ services: { process: { pid: number } }[] }> {
    const state = JSON.parse(readFileSync(path.join(p.dir, ".envoywasm/state.json"), "utf8")) as {
      supervisor: { pid: number };
      services: { process: { pid: number } }[];
    };
    process.kill(state.supervisor.pid, "SIGKILL");
    await waitFor(() => !alive(state.supervisor.pid), 10_000, "the supervisor to die");
    return state;
  }

  it("a supervisor killed -9 takes its services with it (pdeathsig), status tidies up; without pdeathsig, the next up stops what it left", async () => {
    const p = await newProject("headers");
    expect((await runCli(["up", "-d"], { cwd: p.dir })).exitCode).toBe(0);
    const state = await killSupervisor(p);
    await waitFor(() => state.services.every((s) => !alive(s.process.pid)), 5_000, "the services to die");
    const status = await runCli(["status"], { cwd: p.dir });
    expect(status.stdout).toContain("not running");
    expect(existsSync(path.join(p.dir, ".envoywasm/state.json"))).toBe(false);

    // The next up runs; started without pdeathsig, its services outlive its supervisor's kill -9.
    const env = { ENVOYWASM_NO_PDEATHSIG: "1" };
    const up = await runCli(["up", "-d"], { cwd: p.dir, env });
    expect(up.exitCode, up.stderr).toBe(0);
    expect((await request(p.ports.listener)).status).toBe(200);
    const left = await killSupervisor(p);
    await new Promise((r) => setTimeout(r, 300));
    expect(left.services.some((s) => alive(s.process.pid))).toBe(true);
    const again = await runCli(["up", "-d"], { cwd: p.dir, env });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/an earlier run ended without cleaning up; stopped what it left: .*\(pid \d+\)/);
    for (const s of left.services) expect(alive(s.process.pid)).toBe(false);
    expect((await request(p.ports.listener)).status).toBe(200);
  });
});
