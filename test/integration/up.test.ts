import { randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { portInUse } from "../../src/run/ports.js";
import { freePorts, removeTempDirs, runCli, spawnCli, tempDir } from "../helpers/cli.js";

interface Project {
  dir: string;
  name: string;
  ports: { listener: number; admin: number; backend: number };
}

const started: Project[] = [];

afterEach(async () => {
  // Whatever a test left running is stopped, and then must be gone.
  for (const p of started.splice(0)) {
    await runCli(["down"], { cwd: p.dir });
    expect(processesUnder(p.dir)).toEqual([]);
  }
});
afterAll(removeTempDirs);

async function newProject(template: string): Promise<Project> {
  const root = await tempDir();
  const [listener, admin, backend] = await freePorts(3);
  const name = `up-${template}`;
  const r = await runCli(
    ["init", name, "--template", template, "--listener-port", String(listener), "--admin-port", String(admin), "--backend-port", String(backend)],
    { cwd: root },
  );
  expect(r.exitCode, r.stderr).toBe(0);
  const project = { dir: path.join(root, name), name, ports: { listener: listener!, admin: admin!, backend: backend! } };
  started.push(project);
  return project;
}

function request(port: number, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/hello", headers, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
  });
}

/** Live processes whose command line or working folder is inside dir. */
function processesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    if (Number(pid) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (/\) Z /.test(stat)) continue; // zombie: already dead
      if (cmd.includes(dir) || cwd.startsWith(dir)) found.push(`${pid}: ${cmd}`);
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

async function expectAllStopped(p: Project): Promise<void> {
  expect(processesUnder(p.dir)).toEqual([]);
  for (const port of Object.values(p.ports)) expect(await portInUse(port), `port ${port}`).toBe(false);
  expect(existsSync(path.join(p.dir, ".envoywasm/state.json"))).toBe(false);
}

async function waitFor(check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function statusOf(p: Project): Promise<{ running: boolean; services: { name: string; pid: number; running: boolean; health: string }[] }> {
  const r = await runCli(["status", "--json"], { cwd: p.dir });
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

describe("envoywasm up -d / logs / down, end to end with the real Envoy and backend", () => {
  const cases: { template: string; check: (p: Project, probe: string) => Promise<void> }[] = [
    {
      template: "headers",
      check: async (p, probe) => {
        const res = await request(p.ports.listener, { "x-probe": probe });
        expect(res.status).toBe(200);
        expect(res.body).toBe("hola mundo :)");
      },
    },
    {
      template: "add-header",
      check: async (p, probe) => {
        const res = await request(p.ports.listener, { "x-probe": probe });
        expect(res.status).toBe(200);
        expect(res.body).toBe("hola mundo :)");
        expect(res.headers["x-envoywasm"]).toBe(`hello from ${p.name}`);
      },
    },
    {
      template: "auth",
      check: async (p, probe) => {
        const denied = await request(p.ports.listener, { "x-probe": `${probe}-denied` });
        expect(denied.status).toBe(403);
        expect(denied.body).toContain("forbidden");
        const wrong = await request(p.ports.listener, { "x-api-key": "nope", "x-probe": `${probe}-wrong` });
        expect(wrong.status).toBe(403);
        const allowed = await request(p.ports.listener, { "x-api-key": "let-me-in", "x-probe": probe });
        expect(allowed.status).toBe(200);
        expect(allowed.body).toBe("hola mundo :)");
      },
    },
  ];

  for (const { template, check } of cases) {
    it(`${template}: up -d, a request through the plugin, its log line, down`, async () => {
      const p = await newProject(template);
      const up = await runCli(["up", "-d"], { cwd: p.dir });
      expect(up.exitCode, up.stderr).toBe(0);
      expect(up.stderr).toMatch(/ready in [\d.]+ (ms|s)/);
      expect(up.stdout).toContain(`curl -i http://127.0.0.1:${p.ports.listener}/hello`);

      const status = await statusOf(p);
      expect(status.running).toBe(true);
      expect(status.services.map((s) => [s.name, s.running])).toEqual([["backend", true], ["envoy", true]]);
      expect(status.services.find((s) => s.name === "envoy")!.health).toBe("LIVE");

      const probe = randomUUID();
      await check(p, probe);

      // The plugin's own line for this very request, found by its unique header value.
      let wasm = "";
      await waitFor(() => {
        wasm = String(readFileSync(path.join(p.dir, ".envoywasm/logs/envoy.log")));
        return wasm.includes(probe);
      }, 10_000);
      const logs = await runCli(["logs", "--wasm"], { cwd: p.dir });
      expect(logs.exitCode).toBe(0);
      const lines = logs.stdout.trim().split("\n");
      expect(lines.every((l) => l.startsWith("envoy   | ") && l.includes(`wasm log ${p.name}`))).toBe(true);
      const mine = lines.filter((l) => l.includes(probe));
      expect(mine.length).toBeGreaterThan(0);
      expect(mine[0]).toContain("request headers:");
      expect((await runCli(["logs", "--wasm", "--since", "10m"], { cwd: p.dir })).stdout).toContain(probe);
      await new Promise((r) => setTimeout(r, 1100));
      expect((await runCli(["logs", "--wasm", "--since", "1s"], { cwd: p.dir })).stdout).not.toContain(probe);
      const backendLogs = await runCli(["logs", "backend", "--no-prefix", "--tail", "5"], { cwd: p.dir });
      expect(backendLogs.stdout).toMatch(/GET \/hello status=200/);
      expect(backendLogs.stdout).not.toContain("backend |");

      const pids = status.services.map((s) => s.pid);
      const down = await runCli(["down"], { cwd: p.dir });
      expect(down.exitCode).toBe(0);
      expect(down.stderr).toContain("stopped backend");
      for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
      await expectAllStopped(p);

      // The logs outlive the run.
      const after = await runCli(["logs", "--wasm", "--no-prefix"], { cwd: p.dir });
      expect(after.stdout).toContain(probe);
      const again = await runCli(["down"], { cwd: p.dir });
      expect(again.stderr).toContain("nothing is running");
    });
  }

  it("Ctrl-C while up -d waits for the services stops them too (exit 130)", async () => {
    const p = await newProject("headers");
    const up = spawnCli(["up", "-d"], { cwd: p.dir });
    let err = "";
    up.stderr!.on("data", (c: Buffer) => (err += c.toString()));
    // The background supervisor writes its state once the backend runs; Envoy then needs over a second.
    await waitFor(() => existsSync(path.join(p.dir, ".envoywasm/state.json")));
    expect(err).not.toContain("ready in");
    up.kill("SIGINT");
    expect((await up).exitCode).toBe(130);
    await expectAllStopped(p);
  });

  it("refuses a second up while running, and logs -f follows new lines", async () => {
    const p = await newProject("headers");
    expect((await runCli(["up", "-d"], { cwd: p.dir })).exitCode).toBe(0);
    const second = await runCli(["up", "-d"], { cwd: p.dir });
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toContain("this project is already running");

    const follow = spawnCli(["logs", "-f", "--wasm", "--tail", "0"], { cwd: p.dir });
    let seen = "";
    follow.stdout!.on("data", (c: Buffer) => (seen += c.toString()));
    await new Promise((r) => setTimeout(r, 500));
    const probe = randomUUID();
    expect((await request(p.ports.listener, { "x-probe": probe })).status).toBe(200);
    await waitFor(() => seen.includes(probe), 10_000);
    follow.kill("SIGINT");
    const ended = await follow;
    expect(ended.exitCode).toBe(0);
  });

  async function killSupervisor(p: Project): Promise<{ services: { pid: number }[] }> {
    const state = JSON.parse(readFileSync(path.join(p.dir, ".envoywasm/state.json"), "utf8")) as { supervisorPid: number; services: { pid: number }[] };
    process.kill(state.supervisorPid, "SIGKILL");
    await waitFor(() => !alive(state.supervisorPid));
    return state;
  }

  it("a supervisor killed -9 takes its services with it (pdeathsig), and the next up cleans its state", async () => {
    const p = await newProject("headers");
    expect((await runCli(["up", "-d"], { cwd: p.dir })).exitCode).toBe(0);
    const state = await killSupervisor(p);
    await waitFor(() => state.services.every((s) => !alive(s.pid)), 5_000);
    const status = await runCli(["status"], { cwd: p.dir });
    expect(status.stdout).toContain("an earlier run died without cleaning up");
    const up = await runCli(["up", "-d"], { cwd: p.dir });
    expect(up.exitCode, up.stderr).toBe(0);
    expect((await request(p.ports.listener)).status).toBe(200);
  });

  it("without pdeathsig, the next up stops what a killed supervisor left, and says so", async () => {
    const p = await newProject("headers");
    const env = { ENVOYWASM_NO_PDEATHSIG: "1" };
    expect((await runCli(["up", "-d"], { cwd: p.dir, env })).exitCode).toBe(0);
    const state = await killSupervisor(p);
    // Envoy may die with its pipe; the idle backend stays until envoywasm stops it.
    await new Promise((r) => setTimeout(r, 300));
    expect(state.services.some((s) => alive(s.pid))).toBe(true);
    const up = await runCli(["up", "-d"], { cwd: p.dir, env });
    expect(up.exitCode, up.stderr).toBe(0);
    expect(up.stderr).toMatch(/an earlier run ended without cleaning up; stopped what it left: .*\(pid \d+\)/);
    for (const s of state.services) expect(alive(s.pid)).toBe(false);
    expect((await request(p.ports.listener)).status).toBe(200);
  });
});

/** Makes the plugin write to a nil map (a Go panic) when a request has an x-panic header. */
function panicOnHeader(p: Project): void {
  const main = path.join(p.dir, "plugin/main.go");
  const code = readFileSync(main, "utf8");
  const at = code.indexOf("{", code.indexOf("OnHttpRequestHeaders(")) + 1;
  writeFileSync(
    main,
    `${code.slice(0, at)}\n\tif v, _ := proxywasm.GetHttpRequestHeader("x-panic"); v != "" {\n\t\tvar m map[string]int\n\t\tm[v] = 1\n\t}\n${code.slice(at)}`,
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
  } catch {
    return false;
  }
}

describe("envoywasm up in the foreground", () => {
  it("Ctrl-C stops Envoy and the backend and exits 0", async () => {
    const p = await newProject("headers");
    const up = spawnCli(["up"], { cwd: p.dir });
    let err = "";
    let out = "";
    up.stderr!.on("data", (c: Buffer) => (err += c.toString()));
    up.stdout!.on("data", (c: Buffer) => (out += c.toString()));
    await waitFor(() => err.includes("ready in"));
    const probe = randomUUID();
    expect((await request(p.ports.listener, { "x-probe": probe })).status).toBe(200);
    await waitFor(() => out.includes(probe), 10_000);
    // `logs` works from another terminal while the foreground up runs.
    const logs = await runCli(["logs", "--wasm", "--no-prefix"], { cwd: p.dir });
    expect(logs.stdout).toContain(probe);
    expect(err).toMatch(/ready in [\d.]+ m?s \(backend [\d.]+ m?s, envoy [\d.]+ m?s\)/);
    // Envoy's start-up info went to the file only; its plugin lines were shown.
    expect(err).toMatch(/\d+ lines of Envoy start-up info are in \.envoywasm\/logs\/envoy\.log/);
    expect(out).not.toContain("initializing epoch 0");
    expect(readFileSync(path.join(p.dir, ".envoywasm/logs/envoy.log"), "utf8")).toContain("initializing epoch 0");
    // Streamed lines carry an aligned prefix per service, and none is split.
    for (const line of out.trim().split("\n")) expect(line).toMatch(/^(envoy  |backend) \| /);
    up.kill("SIGINT");
    const result = await up;
    expect(result.exitCode).toBe(0);
    expect(err).toContain("stopped envoy and backend");
    await expectAllStopped(p);
  });

  it("kill -9 of the CLI itself leaves nothing running", async () => {
    const p = await newProject("headers");
    const up = spawnCli(["up"], { cwd: p.dir });
    let err = "";
    up.stderr!.on("data", (c: Buffer) => (err += c.toString()));
    await waitFor(() => err.includes("ready in"));
    up.kill("SIGKILL");
    await up;
    await waitFor(() => processesUnder(p.dir).length === 0, 5_000);
    for (const port of [p.ports.listener, p.ports.backend]) expect(await portInUse(port)).toBe(false);
  });

  it("reports a plugin panic in one place: message, Go frame and file:line, and the 503s that follow", async () => {
    const p = await newProject("headers");
    panicOnHeader(p);
    const up = spawnCli(["up"], { cwd: p.dir });
    let err = "";
    up.stderr!.on("data", (c: Buffer) => (err += c.toString()));
    await waitFor(() => err.includes("ready in"));
    expect((await request(p.ports.listener)).status).toBe(200);
    expect((await request(p.ports.listener, { "x-panic": "yes" })).status).toBe(503);
    await waitFor(() => err.includes("its VM is now dead"), 10_000);
    expect(err).toContain("the plugin panicked: assignment to entry in nil map (in proxy_on_request_headers)");
    expect(err).toMatch(/at main\.\(\*\w+\)\.OnHttpRequestHeaders \(plugin\/main\.go:\d+\)/);
    expect((await request(p.ports.listener)).status).toBe(503);
    // status tells the same from Envoy's log, e.g. for a detached run.
    const status = JSON.parse((await runCli(["status", "--json"], { cwd: p.dir })).stdout) as { pluginTraps: { message: string; location: string }[] };
    expect(status.pluginTraps).toHaveLength(1);
    expect(status.pluginTraps[0]).toMatchObject({ message: "assignment to entry in nil map", location: expect.stringMatching(/^plugin\/main\.go:\d+$/) });
    up.kill("SIGINT");
    expect((await up).exitCode).toBe(0);
    await expectAllStopped(p);
  });

  it("with failure_policy FAIL_RELOAD, says that Envoy replaces the VM, and it does", async () => {
    const p = await newProject("headers");
    panicOnHeader(p);
    const config = path.join(p.dir, "envoy.yaml");
    writeFileSync(config, readFileSync(config, "utf8").replace("failure_policy: FAIL_CLOSED", "failure_policy: FAIL_RELOAD"));
    expect((await runCli(["up", "-d"], { cwd: p.dir })).exitCode).toBe(0);
    expect((await request(p.ports.listener, { "x-panic": "yes" })).status).toBe(503);
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = (await request(p.ports.listener)).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(200);
    const r = await runCli(["status"], { cwd: p.dir });
    expect(r.stdout).toContain("the plugin panicked: assignment to entry in nil map");
    expect(r.stdout).toContain("Envoy starts a new VM for the next ones (failure_policy FAIL_RELOAD)");
    // logs says it too, even when it shows only the plugin's own lines.
    const logs = await runCli(["logs", "--wasm"], { cwd: p.dir });
    expect(logs.stderr).toContain("envoywasm: the plugin panicked: assignment to entry in nil map (in proxy_on_request_headers)");
    expect(logs.stdout).toContain("wasm log");
  });

  it("SIGTERM stops both too", async () => {
    const p = await newProject("add-header");
    const up = spawnCli(["up"], { cwd: p.dir });
    let err = "";
    up.stderr!.on("data", (c: Buffer) => (err += c.toString()));
    await waitFor(() => err.includes("ready in"));
    up.kill("SIGTERM");
    expect((await up).exitCode).toBe(0);
    await expectAllStopped(p);
  });

  it("when Envoy dies, says so with its exit, stops the backend and exits non-zero", async () => {
    const p = await newProject("headers");
    const up = spawnCli(["up"], { cwd: p.dir });
    let err = "";
    up.stderr!.on("data", (c: Buffer) => (err += c.toString()));
    await waitFor(() => err.includes("ready in"));
    const envoy = (await statusOf(p)).services.find((s) => s.name === "envoy")!;
    process.kill(envoy.pid, "SIGKILL");
    const result = await up;
    expect(result.exitCode).toBe(1);
    expect(err).toContain("envoy was killed by SIGKILL on its own; stopped the other service");
    expect(err).toContain("its last lines:");
    await expectAllStopped(p);
  });

  it("when the backend dies, says so, stops Envoy and exits non-zero", async () => {
    const p = await newProject("auth");
    const up = spawnCli(["up"], { cwd: p.dir });
    let err = "";
    up.stderr!.on("data", (c: Buffer) => (err += c.toString()));
    await waitFor(() => err.includes("ready in"));
    const backend = (await statusOf(p)).services.find((s) => s.name === "backend")!;
    process.kill(backend.pid, "SIGKILL");
    const result = await up;
    expect(result.exitCode).toBe(1);
    expect(err).toContain("backend was killed by SIGKILL on its own; stopped the other service");
    expect(err).toMatch(/backend \| .*listening on 127\.0\.0\.1:\d+/);
    await expectAllStopped(p);
  });

  it("refuses a port that is taken before starting anything, naming the port and its holder", async () => {
    const p = await newProject("headers");
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(p.ports.listener, "127.0.0.1", () => r()));
    try {
      const r = await runCli(["up"], { cwd: p.dir });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(`port ${p.ports.listener} (listener) is already in use by pid ${process.pid}`);
      expect(processesUnder(p.dir)).toEqual([]);
      expect(await portInUse(p.ports.backend)).toBe(false);
      expect(existsSync(path.join(p.dir, ".envoywasm/state.json"))).toBe(false);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it("shows Envoy's own reason when it rejects envoy.yaml, before starting anything", async () => {
    const p = await newProject("headers");
    const file = path.join(p.dir, "envoy.yaml");
    const text = readFileSync(file, "utf8");
    // The blog's router entry, which modern Envoy rejects.
    const broken = text.replace(
      /typed_config:\n\s+"@type": type\.googleapis\.com\/envoy\.extensions\.filters\.http\.router\.v3\.Router/,
      "typed_config: {}",
    );
    expect(broken).not.toBe(text);
    writeFileSync(file, broken);
    const r = await runCli(["up"], { cwd: p.dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("Envoy rejected envoy.yaml");
    expect(r.stderr).toContain("envoy.extensions.filters.http.router.v3.Router");
    expect(processesUnder(p.dir)).toEqual([]);
  });
});

describe("envoywasm.yaml and envoy.yaml disagreeing", () => {
  it("refuses a different admin port before starting anything, and warns about a module Envoy would not load", async () => {
    const p = await newProject("headers");
    const config = path.join(p.dir, "envoy.yaml");
    const original = readFileSync(config, "utf8");
    writeFileSync(config, original.replace(`port_value: ${p.ports.admin}`, `port_value: ${p.ports.admin + 1}`));
    const r = await runCli(["up"], { cwd: p.dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`envoy.yaml's admin port is ${p.ports.admin + 1}, but ports.admin in envoywasm.yaml is ${p.ports.admin}`);
    expect(processesUnder(p.dir)).toEqual([]);

    writeFileSync(config, original.replace('filename: "build/up-headers.wasm"', 'filename: "build/other.wasm"'));
    const w = await runCli(["up"], { cwd: p.dir });
    expect(w.stderr).toContain("warning: envoy.yaml loads build/other.wasm, but envoywasm builds build/up-headers.wasm");
    expect(w.exitCode).toBe(1); // and Envoy cannot read it
    expect(w.stderr).toContain("Envoy rejected envoy.yaml: Envoy cannot read build/other.wasm");
  });
});
