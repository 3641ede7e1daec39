import { execa } from "execa";
import { randomUUID } from "node:crypto";
import { chmodSync, chownSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { BIN, freePorts, removeTempDirs, runCli, spawnCli, tempDir } from "../helpers/cli.js";
import { edit, newProject as newTemplateProject, stopProjects, userFiles, type Project } from "../helpers/project.js";
import { startRegistry } from "../helpers/registry.js";
import { processesUnder, request, waitFor } from "../helpers/run.js";

// A real Docker engine, and a local Envoy image made from the run's Envoy by
// test/global-setup.ts (no image can be pulled here).
const IMAGE = process.env.ENVOYWASM_TEST_IMAGE;
const docker = IMAGE === undefined ? describe.skip : describe;
const DOCKER_ARGS = ["--docker", "--envoy-image", IMAGE ?? "", "--pull", "never"];

const made: string[] = [];
afterEach(async () => {
  // First: no container of a project a test made may be left; then no process (stopProjects).
  for (const dir of made.splice(0)) {
    await runCli(["down"], { cwd: dir });
    expect(await containersOf(dir)).toEqual([]);
  }
});
afterEach(stopProjects);
afterAll(removeTempDirs);

async function newProject(template = "headers", name = "dk"): Promise<Project> {
  const p = await newTemplateProject(template, name);
  made.push(p.dir);
  return p;
}

/** Containers (any state) labelled with the project. */
async function containersOf(dir: string): Promise<string[]> {
  const r = await execa("docker", ["ps", "-a", "--filter", `label=envoywasm.project=${dir}`, "--format", "{{.Names}} {{.State}}"]);
  return r.stdout.split("\n").filter(Boolean);
}

docker("envoywasm up --docker (a real engine, a local Envoy image)", () => {
  it("up -d → a request through the listener → the plugin's line → a change reloaded in place (envoywasm reload) → down leaves no container", async () => {
    const p = await newProject("add-header");
    const up = await runCli(["up", "-d", ...DOCKER_ARGS], { cwd: p.dir });
    expect(up.exitCode, up.stderr).toBe(0);
    expect(up.stderr).toContain(`Envoy 1.40.0 (image ${IMAGE})`);
    expect(await containersOf(p.dir)).toEqual(
      expect.arrayContaining([expect.stringMatching(/-net running$/), expect.stringMatching(/-backend running$/), expect.stringMatching(/-envoy running$/)]),
    );
    // Published on the host's loopback only.
    const ports = await execa("docker", ["ps", "--filter", `label=envoywasm.project=${p.dir}`, "--format", "{{.Ports}}"]);
    expect(ports.stdout).toContain(`127.0.0.1:${p.ports.listener}`);
    expect(ports.stdout).not.toContain("0.0.0.0:");

    const probe = randomUUID();
    const res = await request(p.ports.listener, { headers: { "x-probe": probe } });
    expect(res.status).toBe(200);
    expect(res.body).toBe("hola mundo :)");
    expect(res.headers["x-envoywasm"]).toBe("hello from dk");
    // The plugin's line for it, at debug (up runs the plugin at debug in a container too).
    const line = "[dk debug] added response header x-envoywasm: hello from dk";
    await waitFor(async () => (await runCli(["logs", "--wasm"], { cwd: p.dir })).stdout.includes(line), 10_000, "the plugin's line");
    const status = JSON.parse((await runCli(["status", "--json"], { cwd: p.dir })).stdout) as {
      runtime: string;
      services: { name: string; container: string; running: boolean; health: string }[];
    };
    expect(status.runtime).toBe("docker");
    expect(status.services.map((s) => [s.name, s.running, s.health])).toEqual([
      ["backend", true, "answering"],
      ["envoy", true, "LIVE"],
    ]);

    // The edit loop in the container: a changed plugin is swapped into the running Envoy.
    const main = path.join(p.dir, "plugin/main.go");
    writeFileSync(
      main,
      readFileSync(main, "utf8")
        .replace('defaultValue  = "hello from dk"', 'defaultValue  = "unused"')
        .replace("proxywasm.AddHttpResponseHeader(h.cfg.Header, h.cfg.Value)", 'proxywasm.AddHttpResponseHeader(h.cfg.Header, h.cfg.Value+" v2")'),
    );
    const reload = await runCli(["reload"], { cwd: p.dir });
    expect(reload.exitCode, reload.stderr).toBe(0);
    expect(reload.stderr).toMatch(/loaded plugin\/ in place/);
    expect((await request(p.ports.listener)).headers["x-envoywasm"]).toBe("hello from dk v2");

    const down = await runCli(["down"], { cwd: p.dir });
    expect(down.exitCode).toBe(0);
    expect(await containersOf(p.dir)).toEqual([]);
    expect((await runCli(["logs", "--wasm", "--no-prefix"], { cwd: p.dir })).stdout).toContain(line);
  });

  it("explains a plugin panic the same way as natively", async () => {
    const p = await newProject("headers");
    const main = path.join(p.dir, "plugin/main.go");
    const code = readFileSync(main, "utf8");
    const at = code.indexOf("{", code.indexOf("OnHttpRequestHeaders(")) + 1;
    writeFileSync(
      main,
      `${code.slice(0, at)}\n\tif v, _ := proxywasm.GetHttpRequestHeader("x-panic"); v != "" {\n\t\tvar m map[string]int\n\t\tm[v] = 1\n\t}\n${code.slice(at)}`,
    );
    const up = spawnCli(["up", ...DOCKER_ARGS], { cwd: p.dir });
    let err = "";
    up.stderr!.on("data", (c: Buffer) => (err += c.toString()));
    try {
      await waitFor(() => err.includes("Ctrl-C stops everything") || up.exitCode !== null, 120_000, "up --docker to be ready");
      expect((await request(p.ports.listener, { headers: { "x-panic": "1" } })).status).toBe(503);
      await waitFor(() => err.includes("its VM is now dead"), 10_000, "the panic report");
      expect(err).toMatch(
        /the plugin panicked: assignment to entry in nil map \(in proxy_on_request_headers\)\n\s+at main\.\(\*\w+\)\.OnHttpRequestHeaders \(plugin\/main\.go:\d+\)/,
      );
    } finally {
      // Foreground Ctrl-C: the containers go too.
      up.kill("SIGINT");
    }
    expect((await up).exitCode).toBe(0);
    expect(err).toContain("stopped envoy and backend");
    expect(await containersOf(p.dir)).toEqual([]);
  });

  it("kill -9 of the CLI leaves containers that the next command finds by label and removes", async () => {
    const p = await newProject();
    const up = spawnCli(["up", ...DOCKER_ARGS], { cwd: p.dir });
    let err = "";
    up.stderr!.on("data", (c: Buffer) => (err += c.toString()));
    await waitFor(() => err.includes("Ctrl-C stops everything") || up.exitCode !== null, 120_000, "up --docker to be ready");
    up.kill("SIGKILL");
    await up;
    // The exit hook never ran: the containers are still there…
    expect((await containersOf(p.dir)).length).toBeGreaterThan(0);
    // …until any command of the project looks.
    const down = await runCli(["down"], { cwd: p.dir });
    expect(down.exitCode).toBe(0);
    expect(down.stderr).toMatch(/its supervisor was gone; stopped what it left: .*container envoywasm-dk-\w+-(net|envoy|backend)/);
    expect(await containersOf(p.dir)).toEqual([]);
  });

  it("a container killed from outside (docker kill) under a detached run: the run ends, and status says who stopped it", async () => {
    const p = await newProject("headers", "outside");
    expect((await runCli(["up", "-d", ...DOCKER_ARGS], { cwd: p.dir })).exitCode).toBe(0);
    const envoy = (
      await execa("docker", ["ps", "-q", "--filter", `label=envoywasm.project=${p.dir}`, "--filter", "label=envoywasm.service=envoy"])
    ).stdout.trim();
    expect(envoy).not.toBe("");
    await execa("docker", ["kill", envoy]);
    await waitFor(async () => (await containersOf(p.dir)).length === 0, 30_000, "the run to end and remove its containers");
    const status = await runCli(["status"], { cwd: p.dir });
    expect(status.stdout).toMatch(
      /last run \(detached, .*\) ended because envoy was killed by SIGKILL: its container was stopped from outside envoywasm \(docker stop, docker kill\)/,
    );
    expect(processesUnder(p.dir)).toEqual([]);
  });

  it("runs beside a native run of another project", async () => {
    const a = await newProject("headers", "side-a");
    const b = await newProject("add-header", "side-b");
    expect((await runCli(["up", "-d", ...DOCKER_ARGS], { cwd: a.dir })).exitCode).toBe(0);
    expect((await runCli(["up", "-d"], { cwd: b.dir })).exitCode).toBe(0);
    expect((await request(a.ports.listener)).status).toBe(200);
    expect((await request(b.ports.listener)).headers["x-envoywasm"]).toBe("hello from side-b");
  });
});

docker("pulling the Envoy image", () => {
  it("--pull missing pulls an absent image from its registry, showing progress; --pull never then finds it", async () => {
    const registry = await startRegistry();
    const ref = `${registry.host}/envoywasm/envoy:pull-test`;
    try {
      await execa("docker", ["tag", IMAGE!, ref]);
      await execa("docker", ["push", ref]);
      await execa("docker", ["rmi", ref]);
      const p = await newProject("headers", "pull");
      const up = await runCli(["up", "-d", "--docker", "--envoy-image", ref, "--pull", "missing"], { cwd: p.dir });
      expect(up.exitCode, up.stderr).toBe(0);
      expect(up.stderr).toMatch(new RegExp(`pulling ${ref.replace(/[./]/g, "\\$&")}`));
      expect(up.stderr).toContain("image pulled");
      expect((await request(p.ports.listener)).status).toBe(200);
      expect((await runCli(["down"], { cwd: p.dir })).exitCode).toBe(0);
      const again = await runCli(["up", "-d", "--docker", "--envoy-image", ref, "--pull", "never"], { cwd: p.dir });
      expect(again.exitCode, again.stderr).toBe(0);
      expect(again.stderr).not.toContain("pulling");
    } finally {
      await execa("docker", ["rmi", "-f", ref], { reject: false });
      await registry.stop();
    }
  });
});

docker("Docker failures are clear and start nothing", () => {
  it("an engine that does not answer", async () => {
    const p = await newProject();
    const r = await runCli(["up", ...DOCKER_ARGS], { cwd: p.dir, env: { DOCKER_HOST: `unix://${p.dir}/no-engine.sock` } });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`error: cannot reach the Docker engine at unix://${p.dir}/no-engine.sock`);
    expect(r.stderr).toContain("hint: start Docker");
    expect(processesUnder(p.dir)).toEqual([]);
    expect(await containersOf(p.dir)).toEqual([]);
  });

  it("an image that is not there with --pull never", async () => {
    const p = await newProject();
    const r = await runCli(["up", "--docker", "--envoy-image", "envoywasm-test/none:0", "--pull", "never"], { cwd: p.dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("error: the image envoywasm-test/none:0 is not on this machine, and --pull never forbids pulling it");
    expect(await containersOf(p.dir)).toEqual([]);
  });

  it("a bad --pull is a usage error", async () => {
    const p = await newProject();
    const r = await runCli(["up", "--docker", "--pull", "sometimes"], { cwd: p.dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("Allowed choices are missing, always, never");
  });
});

docker("the project as the container sees it", () => {
  it("a project only its owner can read (made under umask 077) runs in Docker as it runs natively", async () => {
    const root = await tempDir();
    const [listener, admin, backend] = await freePorts(3);
    const asOwnerOnly = (args: string[], cwd: string) =>
      execa("sh", ["-c", 'umask 077 && exec "$0" "$@"', process.execPath, BIN, ...args], { cwd, env: { NO_COLOR: "1" }, reject: false });
    const init = await asOwnerOnly(
      ["init", "private", "--template", "headers", "--listener-port", String(listener), "--admin-port", String(admin), "--backend-port", String(backend)],
      root,
    );
    expect(init.exitCode, init.stderr).toBe(0);
    const dir = path.join(root, "private");
    made.push(dir);
    expect(statSync(dir).mode & 0o077).toBe(0);
    const up = await asOwnerOnly(["up", "-d", ...DOCKER_ARGS], dir);
    expect(up.exitCode, up.stderr).toBe(0);
    expect((await request(listener!)).status).toBe(200);
  });

  // Root reads any file natively; its container, with no capabilities, goes by the modes (so the file must belong to someone else).
  it.skipIf(process.getuid?.() !== 0)("a file envoy.yaml names that the container cannot read: which file, which line, why, and a fix that works", async () => {
    const p = await newProject("headers", "unread");
    edit(
      path.join(p.dir, "envoy.yaml"),
      "routes:\n",
      'routes:\n                        - match: { prefix: "/motd" }\n                          direct_response: { status: 200, body: { filename: "motd.txt" } }\n',
    );
    const line =
      readFileSync(path.join(p.dir, "envoy.yaml"), "utf8")
        .split("\n")
        .findIndex((l) => l.includes("motd.txt")) + 1;
    const motd = path.join(p.dir, "motd.txt");
    writeFileSync(motd, "message of the day\n", { mode: 0o600 });
    chownSync(motd, 4242, 4242);
    const before = userFiles(p.dir);
    const up = await runCli(["up", "-d", ...DOCKER_ARGS], { cwd: p.dir });
    expect(up.exitCode).toBe(1);
    expect(up.stderr).toContain(
      `Envoy in its container (user 0:0, no capabilities) cannot read motd.txt (envoy.yaml:${line}): it is mode 0600 and belongs to uid 4242`,
    );
    expect(up.stderr).toContain("hint: make it readable: `chmod a+r motd.txt`");
    expect(up.stderr).not.toContain("    at ");
    expect(userFiles(p.dir)).toBe(before);
    expect(await containersOf(p.dir)).toEqual([]);
    // The hint, followed, is the fix.
    chmodSync(motd, 0o644);
    const again = await runCli(["up", "-d", ...DOCKER_ARGS], { cwd: p.dir });
    expect(again.exitCode, again.stderr).toBe(0);
    expect((await request(p.ports.listener, { path: "/motd" })).body).toBe("message of the day\n");
  });
});
