import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { portInUse } from "../../src/platform/ports.js";
import { removeTempDirs, runCli } from "../helpers/cli.js";
import { edit, foreground, newProject, panicOnHeader, statusOf, stopProjects } from "../helpers/project.js";
import { expectAllStopped, processesUnder, request, waitFor } from "../helpers/run.js";

afterEach(stopProjects);
afterAll(removeTempDirs);

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
    for (const line of out.out.trim().split("\n")) expect(line).toMatch(/^(envoy {2}|backend) \| /);
    expect(out.out).toMatch(new RegExp(`envoy   \\| \\d\\d:\\d\\d:\\d\\d\\.\\d{3} \\[${p.name} debug\\] request headers: .*${probe}`));
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
      const p = await newProject("headers");
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
    edit(
      path.join(p.dir, "envoy.yaml"),
      /typed_config:\n\s+"@type": type\.googleapis\.com\/envoy\.extensions\.filters\.http\.router\.v3\.Router/,
      "typed_config: {}",
    );
    const r = await runCli(["up"], { cwd: p.dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('envoy exited with code 1 before it was ready: envoy.yaml: filter "envoy.filters.http.router" has no typed_config');
    expect(r.stderr).toContain('hint: give it typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }');
    await expectAllStopped(p.dir, Object.values(p.ports));
  });

  it("a plugin that refuses its configuration at start is explained with its own last line, and nothing keeps running", async () => {
    const p = await newProject("add-header");
    edit(path.join(p.dir, "envoy.yaml"), /value: \|\n(\s+)\{[\s\S]*?\n\1\}/, "value: |\n$1not json");
    const r = await runCli(["up", "-d"], { cwd: p.dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("Envoy did not load plugin/: the plugin rejected its start-up (OnPluginStart or OnVMStart returned false)");
    expect(r.stderr).toMatch(/hint: its last log line: .*invalid plugin configuration "not json/);
    await expectAllStopped(p.dir, Object.values(p.ports));
  });
});
