import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { removeTempDirs, runCli } from "../helpers/cli.js";
import { edit, foreground, newProject, panicOnHeader, stopProjects, type Project } from "../helpers/project.js";
import { request, waitFor } from "../helpers/run.js";

/**
 * What the plugin said and why it failed, whole and true in every view: real Go plugins (the add-header
 * template, changed), the real Envoy, real requests.
 */
afterEach(stopProjects);
afterAll(removeTempDirs);

/** Adds Go code at the start of the plugin's OnPluginStart. */
function onPluginStart(p: Project, code: string): void {
  const main = path.join(p.dir, "plugin/main.go");
  const text = readFileSync(main, "utf8");
  const at = text.indexOf("{", text.indexOf("OnPluginStart(")) + 1;
  writeFileSync(main, `${text.slice(0, at)}\n${code}\n${text.slice(at)}`);
}

const lines = (text: string) => text.split("\n").filter((l) => l !== "");

describe("a message of several lines and a panic during a request, in logs, --tail, --json and status", () => {
  it("keeps a message's continuation lines with it, and tells a panic as one record everywhere", async () => {
    const p = await newProject("add-header", "records");
    onPluginStart(p, '\tproxywasm.LogInfof("vm config: %s", "{\\n  \\"probe\\": \\"multi-line\\"\\n}")');
    panicOnHeader(p);
    const up = await runCli(["up", "-d"], { cwd: p.dir });
    expect(up.exitCode, up.stderr).toBe(0);

    // The message and its two continuation lines, which carry no `wasm log` prefix, are the plugin's.
    const wasm = await runCli(["logs", "--wasm", "--no-prefix"], { cwd: p.dir });
    expect(wasm.stdout).toMatch(/\[records\] vm config: \{\n {2}"probe": "multi-line"\n\}\n/);
    const json = lines((await runCli(["logs", "--wasm", "--json"], { cwd: p.dir })).stdout).map(
      (l) => JSON.parse(l) as { kind: string; plugin?: { message: string } },
    );
    expect(json.find((r) => r.plugin?.message.startsWith("vm config:"))?.plugin?.message).toBe('vm config: {\n  "probe": "multi-line"\n}');

    expect((await request(p.ports.listener, { headers: { "x-panic": "boom" } })).status).toBe(503);
    await waitFor(async () => (await runCli(["logs", "--wasm", "--json"], { cwd: p.dir })).stdout.includes('"kind":"panic"'), 10_000, "the panic in the log");

    // --tail counts records: the panic is one, told by its explanation, with none of its ~40 fragments.
    const tail = await runCli(["logs", "--wasm", "--tail", "3", "--no-prefix"], { cwd: p.dir });
    expect(tail.exitCode, tail.stderr).toBe(0);
    expect(lines((await runCli(["logs", "--wasm", "--tail", "3", "--json"], { cwd: p.dir })).stdout)).toHaveLength(3);
    expect(tail.stdout).toMatch(
      /panic: assignment to entry in nil map at main\.\(\*httpContext\)\.OnHttpRequestHeaders \(plugin\/main\.go:\d+\) in proxy_on_request_headers/,
    );
    expect(tail.stdout).not.toMatch(/^.*\] goroutine $/m);
    expect(tail.stderr).toContain("Fix it and save (under `up --watch`), or run `envoywasm reload`");
    const all = await runCli(["logs", "--no-prefix"], { cwd: p.dir });
    expect(all.stdout).not.toMatch(/wasm log [\w ]+: goroutine $/m);
    // --verbose keeps every raw line.
    expect((await runCli(["logs", "--verbose", "--no-prefix"], { cwd: p.dir })).stdout).toMatch(/wasm log [\w ]+: goroutine $/m);

    const records = lines((await runCli(["logs", "--json"], { cwd: p.dir })).stdout).map(
      (l) => JSON.parse(l) as { kind: string; panic?: Record<string, string>; lines: string[] },
    );
    const panics = records.filter((r) => r.kind === "panic");
    expect(panics).toHaveLength(1);
    expect(panics[0]!.panic).toMatchObject({
      kind: "panic",
      message: "assignment to entry in nil map",
      callback: "proxy_on_request_headers",
      location: expect.stringMatching(/^plugin\/main\.go:\d+$/),
    });
    expect(panics[0]!.lines.length).toBeGreaterThan(30);

    const status = JSON.parse((await runCli(["status", "--json"], { cwd: p.dir })).stdout) as {
      pluginTraps: { message: string; location: string }[];
      pluginHealth: string;
    };
    expect(status.pluginTraps).toEqual([
      expect.objectContaining({ message: "assignment to entry in nil map", location: expect.stringMatching(/^plugin\/main\.go:\d+$/) }),
    ]);
    expect(status.pluginHealth).toBe("trapped");
    // Plain `logs` leaves Envoy's start-up (its list of extensions) out; --all shows it.
    expect(all.stdout).not.toContain("envoy.filters.http.router");
    expect((await runCli(["logs", "--all", "--no-prefix"], { cwd: p.dir })).stdout).toContain("envoy.filters.http.router");

    // Fixed and reloaded: a new module (a new VM) serves, and status tells the trap as past.
    edit(path.join(p.dir, "plugin/main.go"), "m[v] = 1", "_, _ = m, v");
    const reload = await runCli(["reload"], { cwd: p.dir });
    expect(reload.exitCode, reload.stderr).toBe(0);
    expect((await request(p.ports.listener, { headers: { "x-panic": "boom" } })).status).toBe(200);
    const after = JSON.parse((await runCli(["status", "--json"], { cwd: p.dir })).stdout) as { pluginHealth: string };
    expect(after.pluginHealth).toBe("recovered");
    expect((await runCli(["status"], { cwd: p.dir })).stdout).toMatch(
      /plugin: 1 trap\(s\) in this run, the last at \S+ \(assignment to entry in nil map in proxy_on_request_headers\); a new module has served since \S+, and has not trapped/,
    );
  });

  it("a panic on a tick: the live stream tells it once, in proxy_on_tick, without the fragments", async () => {
    const p = await newProject("add-header", "ticks");
    onPluginStart(p, '\tproxywasm.SetTickPeriodMilliSeconds(200)\n\tproxywasm.LogInfo("a message that ends with a newline\\n")');
    const main = path.join(p.dir, "plugin/main.go");
    writeFileSync(main, `${readFileSync(main, "utf8")}\nfunc (p *pluginContext) OnTick() {\n\tvar m map[string]int\n\tm["tick"] = 1\n}\n`);
    const { up, out } = await foreground(p);
    await waitFor(() => /\(in proxy_on_tick\)[^]*run `envoywasm reload`/.test(out.err), 20_000, "the tick's panic to be told, whole");
    expect(out.err).toMatch(
      /the plugin panicked: assignment to entry in nil map \(in proxy_on_tick\)\n\s+at main\.\(\*pluginContext\)\.OnTick \(plugin\/main\.go:\d+\)/,
    );
    expect(out.out).not.toMatch(/\] goroutine $/m);
    // The empty line its newline leaves is in the file, not on the terminal.
    expect(out.out).toContain("a message that ends with a newline\n");
    expect(out.out).not.toMatch(/a message that ends with a newline\nenvoy {3}\| *\n/);
    up.kill("SIGINT");
    expect((await up).exitCode).toBe(0);
  });
});

describe("start-up failures by their real cause", () => {
  it("a panic in OnPluginStart: its message and file:line, not 'returned false'; status keeps it", async () => {
    const p = await newProject("add-header", "startpanic");
    onPluginStart(p, '\tvar m map[string]int\n\tm["start"] = 1');
    const up = await runCli(["up", "-d"], { cwd: p.dir });
    expect(up.exitCode).toBe(1);
    expect(up.stderr).toMatch(
      /the plugin panicked while starting \(in proxy_on_configure\): assignment to entry in nil map at main\.\(\*pluginContext\)\.OnPluginStart \(plugin\/main\.go:\d+\)/,
    );
    expect(up.stderr).not.toContain("returned false");
    expect(up.stderr).not.toContain(".envoywasm/run");
    const status = await runCli(["status"], { cwd: p.dir });
    expect(status.stdout).toContain("panicked while starting");
  });

  it("contexts registered in main(): build warns with the fix, and up names the cause", async () => {
    const p = await newProject("add-header", "inmain");
    const main = path.join(p.dir, "plugin/main.go");
    edit(main, /func main\(\) \{\}/, "func main() {\n\tproxywasm.SetVMContext(&vmContext{})\n}");
    edit(main, /(func init\(\) \{)\n\tproxywasm\.SetVMContext\(&vmContext\{\}\)/, "$1");
    const build = await runCli(["build"], { cwd: p.dir });
    expect(build.exitCode, build.stderr).toBe(0);
    expect(build.stderr).toMatch(/plugin\/main\.go:\d+: SetVMContext is called in main\(\), which a c-shared Go module never runs: move it into func init\(\)/);
    const up = await runCli(["up", "-d"], { cwd: p.dir });
    expect(up.exitCode).toBe(1);
    expect(up.stderr).toContain("the plugin registered no VM context");
    expect(up.stderr).toContain("hint: call proxywasm.SetVMContext in func init(): a c-shared Go module never runs main()");
  });

  it("Envoy's config errors point at envoy.yaml's line, never at the derived file", async () => {
    const p = await newProject("add-header", "config");
    const envoyYaml = path.join(p.dir, "envoy.yaml");
    const at = (needle: string) =>
      readFileSync(envoyYaml, "utf8")
        .split("\n")
        .findIndex((l) => l.includes(needle)) + 1;
    edit(envoyYaml, "stat_prefix:", "stat_prefx:");
    const typo = await runCli(["up", "-d"], { cwd: p.dir });
    expect(typo.exitCode).toBe(1);
    expect(typo.stderr).toContain(`envoy.yaml:${at("stat_prefx:")}: unknown field "stat_prefx" of HttpConnectionManager`);
    expect(typo.stderr).not.toContain(".envoywasm");
    edit(envoyYaml, "stat_prefx:", "stat_prefix:");
    edit(envoyYaml, /cluster: backend \}/, "cluster: backnd }");
    const cluster = await runCli(["up", "-d"], { cwd: p.dir });
    expect(cluster.exitCode).toBe(1);
    expect(cluster.stderr).toContain(`envoy.yaml:${at("cluster: backnd")}: a route sends requests to cluster "backnd", which is not defined`);
    expect(cluster.stderr).toContain('hint: did you mean "backend"?');
    expect(cluster.stderr).not.toContain(".envoywasm");
    edit(envoyYaml, "cluster: backnd }", "cluster: backend }");
    edit(envoyYaml, /(virtual_hosts:\n\s*- name:) backend/, '$1 ""');
    const empty = await runCli(["up", "-d"], { cwd: p.dir });
    expect(empty.exitCode).toBe(1);
    expect(empty.stderr).toContain(`envoy.yaml:${at('name: ""')}: name: value length must be at least 1 characters`);
    expect(empty.stderr).not.toContain(".envoywasm");
  });
});
