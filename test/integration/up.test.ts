import { randomUUID } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { execa } from "execa";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { portInUse } from "../../src/run/ports.js";
import { freePorts, removeTempDirs, runCli, spawnCli, tempDir } from "../helpers/cli.js";
import { alive, expectAllStopped, processesUnder, request, waitFor } from "../helpers/run.js";

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
    await expectAllStopped(p.dir, Object.values(p.ports));
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

function edit(file: string, from: string | RegExp, to: string): void {
  const text = readFileSync(file, "utf8");
  const next = text.replace(from, to);
  expect(next, `${file}: ${String(from)}`).not.toBe(text);
  writeFileSync(file, next);
}

async function statusOf(p: Project): Promise<{ running: boolean; services: { name: string; pid: number; running: boolean; health: string }[]; listeners: { name: string; port: number }[]; modules: { plugin: string; sha256: string }[] }> {
  const r = await runCli(["status", "--json"], { cwd: p.dir });
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

/** Runs a `try:` line exactly as up printed it, with the real curl. */
async function runTryLine(line: string): Promise<string> {
  const r = await execa("sh", ["-c", line.replace(/^curl /, "curl -sS ")], { reject: false });
  expect(r.exitCode, `${line}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

describe("envoywasm up -d / logs / down, end to end with the real Envoy and backend", () => {
  const cases: { template: string; check: (p: Project, probe: string) => Promise<void> }[] = [
    {
      template: "headers",
      check: async (p, probe) => {
        const res = await request(p.ports.listener, { headers: { "x-probe": probe } });
        expect(res.status).toBe(200);
        expect(res.body).toBe("hola mundo :)");
      },
    },
    {
      template: "add-header",
      check: async (p, probe) => {
        const res = await request(p.ports.listener, { headers: { "x-probe": probe } });
        expect(res.status).toBe(200);
        expect(res.body).toBe("hola mundo :)");
        expect(res.headers["x-envoywasm"]).toBe(`hello from ${p.name}`);
      },
    },
    {
      template: "auth",
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

  for (const { template, check } of cases) {
    it(`${template}: up -d, its try: lines as printed, a request through the plugin, its log line, down`, async () => {
      const p = await newProject(template);
      const up = await runCli(["up", "-d"], { cwd: p.dir });
      expect(up.exitCode, up.stderr).toBe(0);
      expect(up.stderr).toMatch(/ready in [\d.]+ (ms|s)/);
      const tries = up.stdout.split("\n").filter((l) => l.trim().startsWith("try:")).map((l) => l.replace(/^\s*try:\s*/, ""));
      expect(tries.length).toBeGreaterThan(0);
      for (const line of tries) expect(await runTryLine(line)).toMatch(/^HTTP\/1\.1 200 OK/);

      const status = await statusOf(p);
      expect(status.running).toBe(true);
      expect(status.services.map((s) => [s.name, s.running])).toEqual([["backend", true], ["envoy", true]]);
      expect(status.services.find((s) => s.name === "envoy")!.health).toBe("LIVE");
      expect(status.listeners).toEqual([{ name: "listener", port: p.ports.listener }]);
      expect(status.modules).toEqual([{ plugin: "plugin", wasm: `build/${p.name}.wasm`, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);

      const probe = randomUUID();
      await check(p, probe);

      // The plugin's own line for this very request, found by its unique header value: readable, without Envoy's prefix.
      await waitFor(() => readFileSync(path.join(p.dir, ".envoywasm/logs/envoy.log"), "utf8").includes(probe), 10_000, "the plugin's line");
      const logs = await runCli(["logs", "--wasm"], { cwd: p.dir });
      expect(logs.exitCode).toBe(0);
      const lines = logs.stdout.trim().split("\n");
      for (const l of lines) expect(l).toMatch(new RegExp(`^envoy   \\| \\d\\d:\\d\\d:\\d\\d\\.\\d{3} \\[${p.name}( \\w+)?\\] `));
      const mine = lines.filter((l) => l.includes(probe));
      expect(mine[0]).toContain("request headers:");
      expect(mine[0]).not.toContain("context.cc");
      // --verbose shows Envoy's full line.
      expect((await runCli(["logs", "--wasm", "--verbose", "--tail", "1"], { cwd: p.dir })).stdout).toContain("wasm log");
      expect((await runCli(["logs", "--wasm", "--since", "10m"], { cwd: p.dir })).stdout).toContain(probe);
      await new Promise((r) => setTimeout(r, 1100));
      expect((await runCli(["logs", "--wasm", "--since", "1s"], { cwd: p.dir })).stdout).not.toContain(probe);
      const backendLogs = await runCli(["logs", "backend", "--no-prefix", "--tail", "5"], { cwd: p.dir });
      expect(backendLogs.stdout).toMatch(/GET \/hello status=200/);
      expect(backendLogs.stdout).not.toContain("backend |");

      const down = await runCli(["down"], { cwd: p.dir });
      expect(down.exitCode).toBe(0);
      expect(down.stderr).toContain("stopped backend, envoy");
      await expectAllStopped(p.dir, Object.values(p.ports));
      // The logs outlive the run, and status says how it ended.
      expect((await runCli(["logs", "--wasm", "--no-prefix"], { cwd: p.dir })).stdout).toContain(probe);
      const after = await runCli(["status"], { cwd: p.dir });
      expect(after.stdout).toMatch(/^not running\nlast run \(detached, .*\): stopped by SIGTERM/);
      expect((await runCli(["down"], { cwd: p.dir })).stderr).toContain("nothing is running");
    });
  }

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
    expect((await runCli(["up", "-d"], { cwd: p.dir })).exitCode).toBe(0);
    const second = await runCli(["up", "-d"], { cwd: p.dir });
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toMatch(/this project is already running \(pid \d+/);

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
    const state = JSON.parse(readFileSync(path.join(p.dir, ".envoywasm/state.json"), "utf8")) as { supervisor: { pid: number }; services: { process: { pid: number } }[] };
    process.kill(state.supervisor.pid, "SIGKILL");
    await waitFor(() => !alive(state.supervisor.pid), 10_000, "the supervisor to die");
    return state;
  }

  it("a supervisor killed -9 takes its services with it (pdeathsig); status tidies up and says so", async () => {
    const p = await newProject("headers");
    expect((await runCli(["up", "-d"], { cwd: p.dir })).exitCode).toBe(0);
    const state = await killSupervisor(p);
    await waitFor(() => state.services.every((s) => !alive(s.process.pid)), 5_000, "the services to die");
    const status = await runCli(["status"], { cwd: p.dir });
    expect(status.stdout).toContain("not running");
    expect(existsSync(path.join(p.dir, ".envoywasm/state.json"))).toBe(false);
    const up = await runCli(["up", "-d"], { cwd: p.dir });
    expect(up.exitCode, up.stderr).toBe(0);
    expect((await request(p.ports.listener)).status).toBe(200);
  });

  it("without pdeathsig, the next up stops what a killed supervisor left, and says so", async () => {
    const p = await newProject("headers");
    const env = { ENVOYWASM_NO_PDEATHSIG: "1" };
    expect((await runCli(["up", "-d"], { cwd: p.dir, env })).exitCode).toBe(0);
    const state = await killSupervisor(p);
    await new Promise((r) => setTimeout(r, 300));
    expect(state.services.some((s) => alive(s.process.pid))).toBe(true);
    const up = await runCli(["up", "-d"], { cwd: p.dir, env });
    expect(up.exitCode, up.stderr).toBe(0);
    expect(up.stderr).toMatch(/an earlier run ended without cleaning up; stopped what it left: .*\(pid \d+\)/);
    for (const s of state.services) expect(alive(s.process.pid)).toBe(false);
    expect((await request(p.ports.listener)).status).toBe(200);
  });
});

/** Makes the plugin write to a nil map (a Go panic) when a request has an x-panic header. */
function panicOnHeader(p: Project): void {
  const main = path.join(p.dir, "plugin/main.go");
  const code = readFileSync(main, "utf8");
  const at = code.indexOf("{", code.indexOf("OnHttpRequestHeaders(")) + 1;
  writeFileSync(main, `${code.slice(0, at)}\n\tif v, _ := proxywasm.GetHttpRequestHeader("x-panic"); v != "" {\n\t\tvar m map[string]int\n\t\tm[v] = 1\n\t}\n${code.slice(at)}`);
}

/** Starts a foreground `up` and waits until it is ready; returns it with its output so far. */
async function foreground(p: Project, args: string[] = [], env: Record<string, string> = {}) {
  const up = spawnCli(["up", ...args], { cwd: p.dir, env });
  const out = { err: "", out: "" };
  up.stderr!.on("data", (c: Buffer) => (out.err += c.toString()));
  up.stdout!.on("data", (c: Buffer) => (out.out += c.toString()));
  await waitFor(() => out.err.includes("ready in") || up.exitCode !== null, 120_000, "up to be ready");
  expect(out.err, out.err).toContain("ready in");
  return { up, out };
}

describe("envoywasm up in the foreground", () => {
  it("Ctrl-C stops Envoy and the backend and exits 0; lines are prefixed, whole, and plugin lines readable", async () => {
    const p = await newProject("headers");
    const { up, out } = await foreground(p);
    const probe = randomUUID();
    expect((await request(p.ports.listener, { headers: { "x-probe": probe } })).status).toBe(200);
    await waitFor(() => out.out.includes(probe), 10_000, "the plugin's line in the stream");
    // `logs` works from another terminal while the foreground up runs.
    expect((await runCli(["logs", "--wasm", "--no-prefix"], { cwd: p.dir })).stdout).toContain(probe);
    expect(out.err).toMatch(/ready in [\d.]+ m?s \(backend [\d.]+ m?s, envoy [\d.]+ m?s\)/);
    // Envoy's start-up info went to the file only; its plugin lines were shown.
    expect(out.err).toMatch(/\d+ lines of Envoy start-up info are in \.envoywasm\/logs\/envoy\.log/);
    expect(out.out).not.toContain("initializing epoch 0");
    expect(readFileSync(path.join(p.dir, ".envoywasm/logs/envoy.log"), "utf8")).toContain("initializing epoch 0");
    for (const line of out.out.trim().split("\n")) expect(line).toMatch(/^(envoy  |backend) \| /);
    expect(out.out).toMatch(new RegExp(`envoy   \\| \\d\\d:\\d\\d:\\d\\d\\.\\d{3} \\[${p.name}\\] request headers: .*${probe}`));
    up.kill("SIGINT");
    expect((await up).exitCode).toBe(0);
    expect(out.err).toContain("stopped envoy and backend");
    await expectAllStopped(p.dir, Object.values(p.ports));
  });

  it("kill -9 of the CLI itself leaves nothing running, and the next command cleans its state", async () => {
    const p = await newProject("headers");
    const { up } = await foreground(p);
    up.kill("SIGKILL");
    await up;
    await waitFor(() => processesUnder(p.dir).length === 0, 5_000, "the services to die with the CLI");
    expect((await runCli(["status"], { cwd: p.dir })).stdout).toContain("not running");
    await expectAllStopped(p.dir, Object.values(p.ports));
  });

  for (const signal of ["SIGTERM", "SIGHUP"] as const) {
    it(`${signal} stops both too`, async () => {
      const p = await newProject("add-header");
      const { up } = await foreground(p);
      up.kill(signal);
      expect((await up).exitCode).toBe(0);
      await expectAllStopped(p.dir, Object.values(p.ports));
    });
  }

  it("reports a plugin panic once, instead of Envoy's 40 fragments: message, Go frame and file:line, and the 503s that follow", async () => {
    const p = await newProject("headers");
    panicOnHeader(p);
    const { up, out } = await foreground(p);
    expect((await request(p.ports.listener)).status).toBe(200);
    expect((await request(p.ports.listener, { headers: { "x-panic": "yes" } })).status).toBe(503);
    await waitFor(() => out.err.includes("its VM is now dead"), 10_000, "the panic report");
    expect(out.err).toContain("the plugin panicked: assignment to entry in nil map (in proxy_on_request_headers)");
    expect(out.err).toMatch(/at main\.\(\*\w+\)\.OnHttpRequestHeaders \(plugin\/main\.go:\d+\)/);
    expect((await request(p.ports.listener)).status).toBe(503);
    await new Promise((r) => setTimeout(r, 300));
    // The stream shows none of the fragments or the V8 backtrace; the file keeps them.
    expect(out.out).not.toContain("goroutine");
    expect(out.out).not.toContain("Proxy-Wasm plugin in-VM backtrace");
    expect(readFileSync(path.join(p.dir, ".envoywasm/logs/envoy.log"), "utf8")).toContain("Proxy-Wasm plugin in-VM backtrace");
    const status = await runCli(["status", "--json"], { cwd: p.dir });
    const traps = (JSON.parse(status.stdout) as { pluginTraps: { message: string; location: string }[] }).pluginTraps;
    expect(traps).toHaveLength(1);
    expect(traps[0]).toMatchObject({ message: "assignment to entry in nil map", location: expect.stringMatching(/^plugin\/main\.go:\d+$/) });
    up.kill("SIGINT");
    expect((await up).exitCode).toBe(0);
    await expectAllStopped(p.dir, Object.values(p.ports));
  });

  it("with failure_policy FAIL_RELOAD, says that Envoy replaces the VM, and it does", async () => {
    const p = await newProject("headers");
    panicOnHeader(p);
    edit(path.join(p.dir, "envoy.yaml"), "failure_policy: FAIL_CLOSED", "failure_policy: FAIL_RELOAD");
    expect((await runCli(["up", "-d"], { cwd: p.dir })).exitCode).toBe(0);
    expect((await request(p.ports.listener, { headers: { "x-panic": "yes" } })).status).toBe(503);
    await waitFor(async () => (await request(p.ports.listener)).status === 200, 10_000, "a new VM");
    const r = await runCli(["status"], { cwd: p.dir });
    expect(r.stdout).toContain("the plugin panicked: assignment to entry in nil map");
    expect(r.stdout).toContain("Envoy starts a new VM for the next ones (failure_policy FAIL_RELOAD)");
    const logs = await runCli(["logs", "--wasm"], { cwd: p.dir });
    expect(logs.stderr).toContain("envoywasm: the plugin panicked: assignment to entry in nil map (in proxy_on_request_headers)");
  });

  it("when Envoy dies, says so with its exit, stops the backend, exits non-zero, and status tells it later", async () => {
    const p = await newProject("headers");
    const { up, out } = await foreground(p);
    const envoy = (await statusOf(p)).services.find((s) => s.name === "envoy")!;
    process.kill(envoy.pid, "SIGKILL");
    const result = await up;
    expect(result.exitCode).toBe(1);
    expect(out.err).toContain("envoy was killed by SIGKILL on its own; stopped backend");
    expect(out.err).toContain("its last lines:");
    await expectAllStopped(p.dir, Object.values(p.ports));
    const status = await runCli(["status"], { cwd: p.dir });
    expect(status.stdout).toMatch(/last run \(foreground, .*\) ended because envoy was killed by SIGKILL on its own/);
  });

  it("when the backend dies, says so, stops Envoy and exits non-zero", async () => {
    const p = await newProject("auth");
    const { up, out } = await foreground(p);
    const backend = (await statusOf(p)).services.find((s) => s.name === "backend")!;
    process.kill(backend.pid, "SIGKILL");
    expect((await up).exitCode).toBe(1);
    expect(out.err).toContain("backend was killed by SIGKILL on its own; stopped envoy");
    expect(out.err).toMatch(/backend \| .*listening on 127\.0\.0\.1:\d+/);
    await expectAllStopped(p.dir, Object.values(p.ports));
  });

  it("refuses a port envoy.yaml binds that is taken, before starting anything, naming it, its line and its holder", async () => {
    const p = await newProject("headers");
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(p.ports.listener, "127.0.0.1", () => r()));
    try {
      const r = await runCli(["up"], { cwd: p.dir });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`port ${p.ports.listener} \\(listener listener, envoy\\.yaml:\\d+\\) is already in use by pid ${process.pid}`));
      expect(r.stderr).toMatch(/hint: stop that process, or change the port in envoy\.yaml:\d+/);
      expect(processesUnder(p.dir)).toEqual([]);
      expect(await portInUse(p.ports.backend)).toBe(false);
      expect(existsSync(path.join(p.dir, ".envoywasm/state.json"))).toBe(false);
      expect(existsSync(path.join(p.dir, ".envoywasm/run.lock"))).toBe(false);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it("shows Envoy's own reason when it rejects envoy.yaml, and stops the backend it had started", async () => {
    const p = await newProject("headers");
    // The blog's router entry, which modern Envoy rejects.
    edit(path.join(p.dir, "envoy.yaml"), /typed_config:\n\s+"@type": type\.googleapis\.com\/envoy\.extensions\.filters\.http\.router\.v3\.Router/, "typed_config: {}");
    const r = await runCli(["up"], { cwd: p.dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('envoy exited with code 1 before it was ready: envoy.yaml: filter "envoy.filters.http.router" has no typed_config');
    expect(r.stderr).toContain("hint: give it typed_config: { \"@type\": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }");
    await expectAllStopped(p.dir, Object.values(p.ports));
  });

  it("a plugin that refuses its configuration at start is explained with its own last line, and nothing keeps running", async () => {
    const p = await newProject("add-header");
    edit(path.join(p.dir, "envoy.yaml"), /value: \|\n(\s+)\{[\s\S]*?\n\1\}/, "value: |\n$1not json");
    const r = await runCli(["up", "-d"], { cwd: p.dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("Envoy did not load the plugin plugin: the plugin rejected its start-up (OnPluginStart or OnVMStart returned false)");
    expect(r.stderr).toMatch(/hint: its last log line: .*invalid plugin configuration "not json/);
    await expectAllStopped(p.dir, Object.values(p.ports));
  });
});

describe("envoy.yaml is the one place for Envoy's facts", () => {
  it("a listener and admin port changed only in envoy.yaml are the ones used, checked, printed and shown", async () => {
    const p = await newProject("add-header");
    const [listener, admin] = await freePorts(2);
    const file = path.join(p.dir, "envoy.yaml");
    edit(file, `port_value: ${p.ports.listener}`, `port_value: ${listener}`);
    edit(file, `port_value: ${p.ports.admin}`, `port_value: ${admin}`);
    p.ports = { ...p.ports, listener: listener!, admin: admin! };
    // The plugin configuration too: only envoy.yaml holds it.
    edit(file, `"value": "hello from ${p.name}"`, `"value": "from envoy.yaml"`);
    const up = await runCli(["up", "-d"], { cwd: p.dir });
    expect(up.exitCode, up.stderr).toBe(0);
    expect(up.stdout).toContain(`curl -i http://127.0.0.1:${listener}/hello`);
    expect((await request(listener!)).headers["x-envoywasm"]).toBe("from envoy.yaml");
    expect((await statusOf(p)).listeners).toEqual([{ name: "listener", port: listener }]);
  });

  it("checks every listener envoy.yaml has, not only the plugin's", async () => {
    const p = await newProject("headers");
    const [extra] = await freePorts(1);
    const file = path.join(p.dir, "envoy.yaml");
    edit(
      file,
      "  clusters:",
      `    - name: second
      address:
        socket_address: { address: 127.0.0.1, port_value: ${extra} }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: second
                route_config: { virtual_hosts: [{ name: s, domains: ["*"], routes: [{ match: { prefix: "/" }, direct_response: { status: 204 } }] }] }
                http_filters: [{ name: envoy.filters.http.router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } }]
  clusters:`,
    );
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(extra, "127.0.0.1", () => r()));
    try {
      const r = await runCli(["up"], { cwd: p.dir });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`port ${extra} \\(listener second, envoy\\.yaml:\\d+\\) is already in use`));
      expect(processesUnder(p.dir)).toEqual([]);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
    const up = await runCli(["up", "-d"], { cwd: p.dir });
    expect(up.exitCode, up.stderr).toBe(0);
    expect((await request(extra!)).status).toBe(204);
  });

  it("refuses a listener bound to 0.0.0.0 unless --expose, which warns", async () => {
    const p = await newProject("headers");
    edit(path.join(p.dir, "envoy.yaml"), `address: 127.0.0.1, port_value: ${p.ports.listener}`, `address: 0.0.0.0, port_value: ${p.ports.listener}`);
    const r = await runCli(["up"], { cwd: p.dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`envoy\\.yaml:\\d+: listener listener binds 0\\.0\\.0\\.0:${p.ports.listener}, which other machines can reach`));
    expect(r.stderr).toContain("hint: bind 127.0.0.1 in envoy.yaml, or run `envoywasm up --expose`");
    const exposed = await runCli(["up", "-d", "--expose"], { cwd: p.dir });
    expect(exposed.exitCode, exposed.stderr).toBe(0);
    expect(exposed.stderr).toContain("warning: --expose");
  });

  it("keeps a 0.1.0 project running, and says which lines of envoywasm.yaml to delete", async () => {
    const p = await newProject("headers");
    writeFileSync(
      path.join(p.dir, "envoywasm.yaml"),
      `name: ${p.name}\ntoolchain: go\nruntime: native\nplugin:\n  dir: plugin\n  wasm: build/${p.name}.wasm\n  rootId: ${p.name}\n  vmId: ${p.name}\n  config: {}\nenvoy:\n  config: envoy.yaml\n  logLevel: info\n  image: "envoyproxy/envoy:v1.40-latest"\nports:\n  listener: 1\n  admin: 2\n  backend: 3\nbackend:\n  dir: backend\n`,
    );
    const up = await runCli(["up", "-d"], { cwd: p.dir });
    expect(up.exitCode, up.stderr).toBe(0);
    expect(up.stderr).toContain("warning: envoywasm.yaml is from envoywasm 0.1.0");
    expect(up.stderr).toContain("ports (lines 14-17), plugin (lines 4-9). Delete them; in place of plugin:, write `plugins: [plugin]`.");
    // Its stale ports: section (1, 2, 3) is not what runs: envoy.yaml's ports are.
    expect((await request(p.ports.listener)).status).toBe(200);
  });

  it("runs two plugins, each its own Go module and .wasm, chained in one listener", async () => {
    const p = await newProject("auth");
    const root = path.dirname(p.dir);
    // A second plugin: the add-header template's plugin folder, as plugins/adder; the auth one as plugins/auth.
    expect((await runCli(["init", "donor", "--template", "add-header"], { cwd: root })).exitCode).toBe(0);
    const { rename, cp } = await import("node:fs/promises");
    await cp(path.join(root, "donor", "plugin"), path.join(p.dir, "adder"), { recursive: true });
    await rename(path.join(p.dir, "plugin"), path.join(p.dir, "auth"));
    edit(path.join(p.dir, "envoywasm.yaml"), 'plugins:\n  - "plugin"', "plugins:\n  - auth\n  - adder");
    const envoyYaml = path.join(p.dir, "envoy.yaml");
    edit(envoyYaml, `filename: "build/${p.name}.wasm"`, 'filename: "build/auth.wasm"');
    const text = readFileSync(envoyYaml, "utf8");
    const start = text.indexOf("                  - name: envoy.filters.http.wasm");
    const end = text.indexOf("                  # Modern Envoy needs");
    const second = text
      .slice(start, end)
      .replace('filename: "build/auth.wasm"', 'filename: "build/adder.wasm"')
      .replace(/name: "up-auth"/, 'name: "adder"')
      .replace(/vm_id: "up-auth"/, 'vm_id: "adder"')
      .replace(/"header": "x-api-key",\n(\s+)"value": "let-me-in"/, '"header": "x-chained",\n$1"value": "both ran"');
    writeFileSync(envoyYaml, text.slice(0, end) + second + text.slice(end));

    const built = await runCli(["build", "--json"], { cwd: p.dir });
    expect(built.exitCode, built.stderr).toBe(0);
    expect((JSON.parse(built.stdout) as { plugins: { dir: string; wasm: string }[] }).plugins.map((x) => [x.dir, path.basename(x.wasm)])).toEqual([
      ["auth", "auth.wasm"],
      ["adder", "adder.wasm"],
    ]);
    const up = await runCli(["up", "-d"], { cwd: p.dir });
    expect(up.exitCode, up.stderr).toBe(0);
    expect((await request(p.ports.listener)).status).toBe(403);
    const ok = await request(p.ports.listener, { headers: { "x-api-key": "let-me-in" } });
    expect(ok.status).toBe(200);
    expect(ok.headers["x-chained"]).toBe("both ran");
    expect((await statusOf(p)).modules.map((m) => m.plugin)).toEqual(["auth", "adder"]);
  });
});
