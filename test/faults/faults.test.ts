import { spawn } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { execa } from "execa";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { identify } from "../../src/platform/identity.js";
import { BIN, removeTempDirs, runCli, spawnCli } from "../helpers/cli.js";
import { edit, newProject, statusOf, stopProjects, userFiles, type Project } from "../helpers/project.js";
import { alive, expectAllStopped, request, waitFor } from "../helpers/run.js";

// Deliberate faults, with the real processes, Envoy and HTTP. Each case checks
// the exit code, the message's key words, that the user's files are byte for
// byte unchanged, and that nothing is left running.

afterEach(stopProjects);
afterAll(removeTempDirs);

describe("nothing foreign is ever signalled", () => {
  it("a state.json whose pids belong to someone else's node process: status and down leave it alone", async () => {
    const p = await newProject("headers", "foreign");
    const stranger = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    try {
      await waitFor(() => identify(stranger.pid!) !== undefined, 5000, "the stranger to run");
      const id = identify(stranger.pid!)!;
      // A state file as envoywasm writes it, but recording the stranger with another start time (a reused pid)…
      const state = {
        version: 2,
        runId: "old",
        supervisor: { ...id, startTime: String(Number(id.startTime) - 1) },
        mode: "detached",
        runtime: "native",
        startedAt: new Date().toISOString(),
        envoy: { version: "1.40.0" },
        admin: p.ports.admin,
        listeners: [],
        services: [
          { name: "backend", ports: [p.ports.backend], process: { pid: 999_999, startTime: "1", command: "backend" } },
          { name: "envoy", ports: [], process: { ...id, startTime: "7" } },
        ],
        modules: [],
        watch: false,
        controlSocket: path.join(p.dir, "nothing.sock"),
      };
      const { mkdirSync } = await import("node:fs");
      mkdirSync(path.join(p.dir, ".envoywasm"), { recursive: true });
      writeFileSync(path.join(p.dir, ".envoywasm/state.json"), JSON.stringify(state));
      const status = await runCli(["status"], { cwd: p.dir });
      expect(status.exitCode).toBe(0);
      expect(status.stdout).toContain("not running");
      expect(alive(stranger.pid!)).toBe(true);
      writeFileSync(path.join(p.dir, ".envoywasm/state.json"), JSON.stringify(state));
      const down = await runCli(["down"], { cwd: p.dir });
      expect(down.exitCode).toBe(0);
      expect(down.stderr).toContain("nothing is running");
      expect(down.stderr).not.toContain("999999");
      await new Promise((r) => setTimeout(r, 300));
      expect(alive(stranger.pid!)).toBe(true);
    } finally {
      stranger.kill("SIGKILL");
    }
  });

  it("files envoywasm reads back that are not its own are ignored with a warning, not an internal error", async () => {
    const p = await newProject("headers", "badjson");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(path.join(p.dir, ".envoywasm", "build"), { recursive: true });
    writeFileSync(path.join(p.dir, ".envoywasm/state.json"), "null");
    writeFileSync(path.join(p.dir, ".envoywasm/last-run.json"), "[1,2]");
    writeFileSync(path.join(p.dir, ".envoywasm/build/plugin.json"), "null");
    writeFileSync(path.join(process.env.ENVOYWASM_HOME!, "envoy-binaries.json"), "null");
    const status = await runCli(["status"], { cwd: p.dir });
    expect(status.exitCode).toBe(0);
    expect(status.stderr).toMatch(
      /warning: ignored .*state\.json is not a file this version of envoywasm wrote: it must be an object \(got null\) \(treated as absent, and removed\)/,
    );
    expect(status.stderr).not.toContain("internal error");
    const build = await runCli(["build"], { cwd: p.dir });
    expect(build.exitCode, build.stderr).toBe(0);
    expect((await runCli(["envoy", "which"], { cwd: p.dir })).exitCode).toBe(0);
  });
});

describe("two runs cannot corrupt each other", () => {
  it("two `up -d` started at the same instant: one runs, the other is refused before it touches logs, state or ports", async () => {
    const p = await newProject("headers", "twice");
    expect((await runCli(["build"], { cwd: p.dir })).exitCode).toBe(0);
    const before = userFiles(p.dir);
    const [a, b] = await Promise.all([runCli(["up", "-d"], { cwd: p.dir }), runCli(["up", "-d"], { cwd: p.dir })]);
    const codes = [a.exitCode, b.exitCode].sort();
    expect(codes).toEqual([0, 1]);
    const loser = a.exitCode === 1 ? a : b;
    expect(loser.stderr).toMatch(/error: this project is already running \(pid \d+/);
    expect((await request(p.ports.listener)).status).toBe(200);
    const envoyLog = await readFile(path.join(p.dir, ".envoywasm/logs/envoy.log"));
    expect(envoyLog.includes(0)).toBe(false); // no NUL bytes from a second writer
    expect(readFileSync(path.join(p.dir, ".envoywasm/logs/backend.log"), "utf8")).not.toContain("address already in use");
    expect((await statusOf(p)).services.every((s) => s.running)).toBe(true);
    expect(userFiles(p.dir)).toBe(before);
    // The refused one's early supervisor went with it, and its log.
    expect(readdirSync(path.join(p.dir, ".envoywasm/logs")).filter((f) => f.startsWith("supervisor.starting-"))).toEqual([]);
  });

  it("kill -9 of `up -d` while it prepares: the supervisor it forked early ends by itself, and the next up sweeps its log", async () => {
    const p = await newProject("headers", "early");
    edit(path.join(p.dir, "plugin/main.go"), "func main() {}", "func main() {}\n\nconst changed = 1");
    const up = spawnCli(["up", "-d"], { cwd: p.dir });
    let err = "";
    up.stderr!.on("data", (c: Buffer) => (err += c.toString()));
    // Compiling: the plan is not ready yet, and the early supervisor is waiting for it.
    await waitFor(() => err.includes("compiling plugin/") || up.exitCode !== null, 60_000, "up -d to compile");
    const early = () => childrenOf(up.pid!).filter((c) => c.includes("__supervise --await-plan"));
    expect(early()).toHaveLength(1);
    const earlyPid = Number(early()[0]!.split(":")[0]);
    up.kill("SIGKILL");
    await up;
    await waitFor(() => !alive(earlyPid), 10_000, "the early supervisor to end by itself");
    expect(readdirSync(path.join(p.dir, ".envoywasm/logs")).filter((f) => f.startsWith("supervisor.starting-"))).toHaveLength(1);
    const again = await runCli(["up", "-d"], { cwd: p.dir });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(readdirSync(path.join(p.dir, ".envoywasm/logs")).filter((f) => f.startsWith("supervisor.starting-"))).toEqual([]);
  });
});

/** "pid: command line" of a process's children. */
function childrenOf(pid: number): string[] {
  const found: string[] = [];
  for (const entry of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) found.push(`${entry}: ${readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ")}`);
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

describe("every failure is clear, documented in its exit code, and changes none of the user's files", () => {
  it("wrong command lines exit 2, whatever the flag", async () => {
    const p = await newProject("headers", "usage");
    for (const args of [
      ["up", "--concurrency", "many"],
      ["up", "--ready-timeout", "0"],
      ["logs", "--since", "yesterday"],
      ["logs", "--tail", "-3"],
      ["init", "x", "--listener-port", "99999"],
    ]) {
      const r = await runCli(args, { cwd: p.dir });
      expect(r.exitCode, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).not.toMatch(/^\s+at /m);
    }
    const json = await runCli(["status", "--json", "--bogus"], { cwd: p.dir });
    expect(json.exitCode).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: expect.stringContaining("unknown option '--bogus'"), exitCode: 2 });
  });

  it("a backend that dies at once, every time: one clear failure, no respawning, nothing left, files untouched", async () => {
    const p = await newProject("headers", "crashloop");
    edit(path.join(p.dir, "backend/main.go"), "\tlog.SetOutput(os.Stdout)\n", '\tlog.SetOutput(os.Stdout)\n\tlog.Fatal("cannot start: no database")\n');
    const before = userFiles(p.dir);
    const r = await runCli(["up", "-d"], { cwd: p.dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("backend exited with code 1 before it was ready; its last lines:");
    expect(r.stderr).toContain("cannot start: no database");
    await expectAllStopped(p.dir, Object.values(p.ports));
    const status = await runCli(["status"], { cwd: p.dir });
    expect(status.stdout).toMatch(/last run \(detached, .*\) failed to start: backend exited with code 1 before it was ready/);
    expect(userFiles(p.dir)).toBe(before);
  });

  it("a detached run whose backend was killed: status tells how it ended, and `logs supervisor` shows it", async () => {
    const p = await newProject("headers", "died");
    expect((await runCli(["up", "-d"], { cwd: p.dir })).exitCode).toBe(0);
    const backend = (await statusOf(p)).services.find((s) => s.name === "backend")!;
    process.kill(backend.pid, "SIGKILL");
    await waitFor(async () => (await runCli(["status"], { cwd: p.dir })).stdout.startsWith("not running"), 20_000, "the run to end");
    const status = await runCli(["status"], { cwd: p.dir });
    expect(status.stdout).toMatch(/last run \(detached, .*\) ended because backend was killed by SIGKILL on its own/);
    const sup = await runCli(["logs", "supervisor"], { cwd: p.dir });
    expect(sup.stdout).toMatch(/supervisor \| backend ended on its own \(SIGKILL\); stopped the rest/);
    await expectAllStopped(p.dir, Object.values(p.ports));
  });

  it("Envoy killed under load: up says so with its exit and last lines, stops the backend, exits 1, and status tells it later", async () => {
    const p = await newProject("headers", "underload");
    const up = spawnCli(["up"], { cwd: p.dir });
    let err = "";
    up.stderr!.on("data", (c: Buffer) => (err += c.toString()));
    await waitFor(() => err.includes("Ctrl-C stops everything"), 120_000, "up to be ready");
    const agent = new http.Agent({ keepAlive: true });
    let stop = false;
    const loops = Array.from({ length: 3 }, async () => {
      while (!stop) {
        await new Promise<void>((resolve) => {
          http
            .get({ host: "127.0.0.1", port: p.ports.listener, path: "/hello", agent }, (res) => {
              res.resume();
              res.on("end", () => resolve());
            })
            .on("error", () => resolve());
        });
      }
    });
    await new Promise((r) => setTimeout(r, 300));
    const envoy = (await statusOf(p)).services.find((s) => s.name === "envoy")!;
    process.kill(envoy.pid, "SIGKILL");
    const result = await up;
    stop = true;
    await Promise.all(loops);
    agent.destroy();
    expect(result.exitCode).toBe(1);
    expect(err).toContain("envoy was killed by SIGKILL on its own; stopped backend");
    expect(err).toContain("its last lines:");
    await expectAllStopped(p.dir, Object.values(p.ports));
    const status = await runCli(["status"], { cwd: p.dir });
    expect(status.stdout).toMatch(/last run \(foreground, .*\) ended because envoy was killed by SIGKILL on its own/);
  });
});

describe("every byte of output arrives, through real pipes", () => {
  it("200,000 backend lines: `logs backend | wc -l` counts them all, `| head -1` ends quietly", async () => {
    const p: Project = await newProject("headers", "chatty");
    edit(
      path.join(p.dir, "backend/main.go"),
      "\tlog.SetOutput(os.Stdout)\n",
      '\tlog.SetOutput(os.Stdout)\n\tfor i := 0; i < 200000; i++ {\n\t\tfmt.Printf("line %d of a chatty backend\\n", i)\n\t}\n',
    );
    expect((await runCli(["up", "-d"], { cwd: p.dir })).exitCode).toBe(0);
    const file = path.join(p.dir, ".envoywasm/logs/backend.log");
    await waitFor(() => readFileSync(file, "utf8").includes("line 199999 "), 60_000, "all lines in the log file");
    expect((await runCli(["down"], { cwd: p.dir })).exitCode).toBe(0);
    const env = { ...process.env, NO_COLOR: "1" };
    const count = await execa("sh", ["-c", `node ${BIN} logs backend --no-prefix | grep -c 'of a chatty backend'`], { cwd: p.dir, env });
    expect(count.stdout.trim()).toBe("200000");
    const catted = await execa("sh", ["-c", `node ${BIN} logs backend --no-prefix | cat | grep 'of a chatty backend' | sed -n '1p;$p'`], { cwd: p.dir, env });
    expect(catted.stdout).toBe("line 0 of a chatty backend\nline 199999 of a chatty backend");
    const head = await execa("sh", ["-c", `node ${BIN} logs backend --no-prefix | head -1`], { cwd: p.dir, env, reject: false });
    expect(head.stdout).toBe("line 0 of a chatty backend");
    expect(head.stderr).toBe("");
    const json = await execa("sh", ["-c", `node ${BIN} status --json | cat`], { cwd: p.dir, env });
    expect(JSON.parse(json.stdout)).toMatchObject({ running: false });
  });
});
