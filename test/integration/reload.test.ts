import { once } from "node:events";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { askSupervisor } from "../../src/run/supervisor/control.js";
import { freePorts, removeTempDirs, runCli, spawnCli } from "../helpers/cli.js";
import { edit, newProject as newTemplateProject, stopProjects, type Project } from "../helpers/project.js";
import { request, steadyLoad, waitFor } from "../helpers/run.js";

afterEach(stopProjects);
afterAll(removeTempDirs);

const newProject = (template = "add-header") => newTemplateProject(template, "rl");

/** Makes the add-header plugin also answer with `x-version: <v>`. */
function setVersion(p: Project, version: string): void {
  const main = path.join(p.dir, "plugin/main.go");
  const text = readFileSync(main, "utf8").replace(/\n\tproxywasm\.AddHttpResponseHeader\("x-version", "[^"]*"\)\n/, "\n");
  const at = text.indexOf("{", text.indexOf("OnHttpResponseHeaders(")) + 1;
  writeFileSync(main, `${text.slice(0, at)}\n\tproxywasm.AddHttpResponseHeader("x-version", "${version}")\n${text.slice(at)}`);
}

describe("up --watch: the edit loop", () => {
  it("a saved plugin change is swapped into the running Envoy under load with no failed request; a compile error keeps the old one serving", async () => {
    const p = await newProject();
    setVersion(p, "1");
    const up = spawnCli(["up", "--watch"], { cwd: p.dir });
    const out = { err: "", out: "" };
    up.stderr!.on("data", (c: Buffer) => (out.err += c.toString()));
    up.stdout!.on("data", (c: Buffer) => (out.out += c.toString()));
    try {
      await waitFor(() => out.err.includes("Ctrl-C stops everything"), 120_000, "up --watch to be ready");
      expect(out.err).toContain("watching plugins, envoy.yaml and the backend");
      expect((await request(p.ports.listener)).headers["x-version"]).toBe("1");

      const traffic = steadyLoad(p.ports.listener, "x-version");
      await waitFor(() => traffic.counts.ok > 50, 10_000, "traffic");
      setVersion(p, "2");
      await waitFor(
        () => /plugin\/main\.go changed: built plugin\/ in [\d.]+ s, loaded plugin\/ in place in [\d.]+ s; now serving plugin\/ [0-9a-f]{12}/.test(out.err),
        60_000,
        "the reload line",
      );
      await waitFor(() => traffic.counts.versions.has("2"), 10_000, "the new code answering under load");
      const counts = await traffic.stop();
      expect(counts.failed).toBe(0);
      expect(counts.non200).toBe(0);
      expect(counts.ok).toBeGreaterThan(100);
      expect([...counts.versions].sort()).toEqual(["1", "2"]);

      // A compile error: the compiler's lines in the stream, the running version keeps serving.
      const main = path.join(p.dir, "plugin/main.go");
      edit(main, "func main() {}", "func main() { undefinedThing() }");
      await waitFor(() => out.err.includes("plugin/ did not compile; still serving sha256"), 60_000, "the compile error");
      expect(out.out).toMatch(/build {3}\| plugin\/main\.go:\d+:\d+: undefined: undefinedThing/);
      const still = await request(p.ports.listener);
      expect(still.status).toBe(200);
      expect(still.headers["x-version"]).toBe("2");
      edit(main, "func main() { undefinedThing() }", "func main() {}");
      await waitFor(
        () => (out.err.match(/plugin\/main\.go changed: /g) ?? []).length >= 3 && /plugin\/main\.go changed: nothing to reload/.test(out.err),
        60_000,
        "the fixed build",
      );
    } finally {
      up.kill("SIGINT");
    }
    expect((await up).exitCode).toBe(0);
  });

  it("an envoy.yaml change in the plugin's configuration is applied in place; one elsewhere restarts Envoy, saying why; a backend change restarts only the backend", async () => {
    const p = await newProject();
    const up = spawnCli(["up", "--watch"], { cwd: p.dir });
    const out = { err: "" };
    up.stderr!.on("data", (c: Buffer) => (out.err += c.toString()));
    try {
      await waitFor(() => out.err.includes("Ctrl-C stops everything"), 120_000, "up --watch to be ready");
      const envoyYaml = path.join(p.dir, "envoy.yaml");
      edit(envoyYaml, '"value": "hello from rl"', '"value": "configured live"');
      await waitFor(() => /envoy\.yaml changed: loaded the new configuration of plugin\/ in place/.test(out.err), 60_000, "the config reload");
      expect((await request(p.ports.listener)).headers["x-envoywasm"]).toBe("configured live");

      edit(envoyYaml, "connect_timeout: 1s", "connect_timeout: 2s");
      await waitFor(
        () =>
          /envoy\.yaml changed: restarted Envoy in [\d.]+ s \(the change is outside the HTTP Wasm filters \(in envoy\.yaml, or a plugin in a network filter or run as a service\), which only a restart applies\)/.test(
            out.err,
          ),
        60_000,
        "the restart",
      );
      expect((await request(p.ports.listener)).status).toBe(200);

      edit(path.join(p.dir, "backend/main.go"), 'fmt.Fprint(w, "hola mundo :)")', 'fmt.Fprint(w, "hola de nuevo")');
      await waitFor(() => /backend\/main\.go changed: rebuilt and restarted the backend in [\d.]+ s/.test(out.err), 60_000, "the backend restart");
      expect((await request(p.ports.listener)).body).toBe("hola de nuevo");
    } finally {
      up.kill("SIGINT");
    }
    expect((await up).exitCode).toBe(0);
  });
});

describe("envoywasm reload", () => {
  it("loads a change into a detached run on demand; the run says when its module was rebuilt under it", async () => {
    const p = await newProject();
    setVersion(p, "a");
    expect((await runCli(["up", "-d"], { cwd: p.dir })).exitCode).toBe(0);
    setVersion(p, "b");
    const built = await runCli(["build"], { cwd: p.dir });
    expect(built.exitCode).toBe(0);
    await waitFor(async () => (await runCli(["logs", "supervisor"], { cwd: p.dir })).stdout.includes("was rebuilt"), 10_000, "the rebuilt notice");
    expect((await runCli(["logs", "supervisor"], { cwd: p.dir })).stdout).toMatch(
      /build\/rl\.wasm was rebuilt \(sha256 [0-9a-f]{12}\); this run still serves the previous module: `envoywasm reload` loads it in place/,
    );
    expect((await request(p.ports.listener)).headers["x-version"]).toBe("a");

    const reload = await runCli(["reload"], { cwd: p.dir });
    expect(reload.exitCode, reload.stderr).toBe(0);
    expect(reload.stderr).toMatch(/✔ envoywasm reload: loaded plugin\/ in place in [\d.]+ s; now serving plugin\/ [0-9a-f]{12}/);
    expect((await request(p.ports.listener)).headers["x-version"]).toBe("b");
    const status = JSON.parse((await runCli(["status", "--json"], { cwd: p.dir })).stdout) as { modules: { sha256: string }[] };
    expect(reload.stderr).toContain(status.modules[0]!.sha256.slice(0, 12));

    // A plugin that refuses its new configuration: Envoy keeps the old one, and reload says so (exit 1).
    edit(path.join(p.dir, "envoy.yaml"), /value: \|\n(\s+)\{[\s\S]*?\n\1\}/, "value: |\n$1not json");
    const refused = await runCli(["reload"], { cwd: p.dir });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain("error: envoywasm reload: Envoy refused the new plugin/: the plugin rejected its start-up");
    expect((await request(p.ports.listener)).headers["x-version"]).toBe("b");

    // The backend moved to a port another process holds: refused before the running backend stops, so the run goes on.
    const [taken] = await freePorts(1);
    const holder = net.createServer().listen(taken, "127.0.0.1");
    await once(holder, "listening");
    try {
      edit(path.join(p.dir, "envoy.yaml"), `port_value: ${p.ports.backend}`, `port_value: ${taken}`);
      const moved = await runCli(["reload"], { cwd: p.dir });
      expect(moved.exitCode).toBe(1);
      expect(moved.stderr).toContain(`the backend's port ${taken} of the changed envoy.yaml is already in use; the previous version keeps running`);
      expect((await request(p.ports.listener)).status).toBe(200);
      expect((await runCli(["status"], { cwd: p.dir })).stdout).toMatch(/^running/);
    } finally {
      holder.close();
    }
    edit(path.join(p.dir, "envoy.yaml"), `port_value: ${taken}`, `port_value: ${p.ports.backend}`);

    // A plugin that does not compile: the hint says to run reload again (nothing here watches for saves).
    edit(path.join(p.dir, "plugin/main.go"), "func main() {}", "func main() { undefinedThing() }");
    const broken = await runCli(["reload"], { cwd: p.dir });
    expect(broken.exitCode).toBe(1);
    expect(broken.stderr).toContain("hint: fix it and run `envoywasm reload` again");
    expect(broken.stderr).not.toContain("save again");
  });

  it("up -d --watch: the background supervisor has a CLI process build each saved change, loads it, and keeps serving through a compile error", async () => {
    const p = await newProject();
    setVersion(p, "a");
    expect((await runCli(["up", "-d", "--watch"], { cwd: p.dir })).exitCode).toBe(0);
    const supervisorLog = async () => (await runCli(["logs", "supervisor"], { cwd: p.dir })).stdout;
    setVersion(p, "b");
    await waitFor(async () => (await request(p.ports.listener)).headers["x-version"] === "b", 60_000, "the saved change to serve");
    expect(await supervisorLog()).toMatch(
      /plugin\/main\.go changed: built plugin\/ in [\d.]+ s, loaded plugin\/ in place in [\d.]+ s; now serving plugin\/ [0-9a-f]{12}/,
    );

    edit(path.join(p.dir, "plugin/main.go"), "func main() {}", "func main() { undefinedThing() }");
    await waitFor(async () => (await supervisorLog()).includes("still serving sha256"), 60_000, "the compile error's notice");
    expect(await supervisorLog()).toMatch(/plugin\/main\.go changed: plugin\/ did not compile; still serving sha256 [0-9a-f]{12}/);
    expect((await runCli(["logs", "build"], { cwd: p.dir })).stdout).toContain("undefined: undefinedThing");
    expect((await request(p.ports.listener)).headers["x-version"]).toBe("b");
    // The CLI process it started for each reload is gone.
    const preparing = readdirSync("/proc")
      .filter((d) => /^\d+$/.test(d))
      .map((d) => {
        try {
          return readFileSync(`/proc/${d}/cmdline`, "utf8");
        } catch {
          return "";
        }
      })
      .filter((c) => c.includes("__prepare-reload") && c.includes(p.dir));
    expect(preparing).toEqual([]);
  });

  it("one reload prepares at a time: `envoywasm reload` builds only once the reload before it is done; the control socket applies only what stays under the project's .envoywasm folder", async () => {
    const p = await newProject();
    setVersion(p, "a");
    expect((await runCli(["up", "-d"], { cwd: p.dir })).exitCode).toBe(0);
    const state = JSON.parse(readFileSync(path.join(p.dir, ".envoywasm/state.json"), "utf8")) as { controlSocket: string };
    const wasm = path.join(p.dir, "build/rl.wasm");
    const before = readFileSync(wasm);
    // Hold the run's reload turn.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let holding!: () => void;
    const turn = new Promise<void>((resolve) => (holding = resolve));
    const first = askSupervisor(state.controlSocket, async () => {
      holding();
      await held;
      return { ok: false, message: "held on purpose" };
    });
    await turn;
    setVersion(p, "b");
    const second = spawnCli(["reload"], { cwd: p.dir });
    let secondErr = "";
    second.stderr!.on("data", (c: Buffer) => (secondErr += c.toString()));
    await waitFor(() => secondErr.includes("building, then asking"), 30_000, "the second reload to ask");
    await new Promise((r) => setTimeout(r, 2000));
    // While the turn is held, the second reload has not built anything.
    expect(readFileSync(wasm).equals(before)).toBe(true);
    release();
    expect((await first).result.message).toContain("held on purpose");
    const done = await second;
    expect(done.exitCode, String(done.all)).toBe(0);
    expect(done.all).toMatch(/envoywasm reload: built plugin\/ in [\d.]+ s, loaded plugin\/ in place/);
    expect((await request(p.ports.listener)).headers["x-version"]).toBe("b");

    // A reload that names a file outside the project's .envoywasm folder is refused whole, and the run keeps serving.
    const outside = path.join(path.dirname(p.dir), "elsewhere");
    const { result } = await askSupervisor(state.controlSocket, async () => ({
      ok: true,
      plugins: [],
      buildMs: 0,
      derived: { text: "", skeletonHash: "x", resources: [{ name: "f", file: path.join(outside, "f.yaml"), dir: outside, text: "", version: "1" }] },
      ecds: [],
      modules: [],
      envoy: { ports: [], listeners: [], display: "envoy.yaml" },
      paths: { run: path.join(p.dir, ".envoywasm/run"), modules: path.join(p.dir, ".envoywasm/run/modules") },
    }));
    expect(result.ok).toBe(false);
    expect(result.message).toContain(`names ${path.join(outside, "f.yaml")}, outside this project's .envoywasm folder; nothing was applied`);
    expect(existsSync(outside)).toBe(false);
    expect((await request(p.ports.listener)).headers["x-version"]).toBe("b");
  });

  it("says when nothing runs", async () => {
    const p = await newProject();
    const r = await runCli(["reload"], { cwd: p.dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("error: this project is not running");
  });
});
