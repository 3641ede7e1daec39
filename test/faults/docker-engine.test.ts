import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { removeTempDirs, runCli } from "../helpers/cli.js";
import { privateEngine, privateEngineUnavailable, type Engine } from "../helpers/engine.js";
import { buildEnvoyImage } from "../helpers/envoy-image.js";
import { foreground, newProject, userFiles } from "../helpers/project.js";
import { expectAllStopped, request } from "../helpers/run.js";

// The Docker engine stopping under a run. It runs on a private engine of its
// own (stopping the shared one would take the other Docker tests down with it).

const IMAGE = process.env.ENVOYWASM_TEST_IMAGE;
const unavailable = IMAGE === undefined ? "the Docker tests are off" : privateEngineUnavailable();

let engine: Engine | undefined;
afterAll(async () => {
  await engine?.remove();
  await removeTempDirs();
});

describe.skipIf(unavailable !== undefined)(`the Docker engine stopping mid-run${unavailable === undefined ? "" : ` (skipped: ${unavailable})`}`, () => {
  it("up says the engine stopped (not that a container ended), exits 1, and the next command removes what the engine left once it is back", async () => {
    engine = await privateEngine();
    const image = "envoywasm-test/envoy:private";
    await buildEnvoyImage(process.env.ENVOYWASM_TEST_ENVOY!, image, { ...process.env, ...engine.env });
    const env = engine.env;
    const p = await newProject("headers", "engine");
    const before = userFiles(p.dir);
    const containers = async () =>
      (await execa("docker", ["ps", "-a", "--filter", `label=envoywasm.project=${p.dir}`, "--format", "{{.Names}} {{.State}}"], { env })).stdout
        .split("\n")
        .filter(Boolean);

    const { up, out } = await foreground(p, ["--docker", "--envoy-image", image, "--pull", "never"], env);
    expect((await request(p.ports.listener)).status).toBe(200);
    await engine.stop();
    const ended = await up;
    expect(ended.exitCode, out.err).toBe(1);
    expect(out.err).toContain(`the Docker engine (${engine.host}) stopped under the run, and envoy and backend with it`);
    expect(out.err).not.toMatch(/exited with code \d+ on its own/);
    expect(out.err).not.toContain("    at ");

    // While the engine is away, status says how the run ended and that its containers wait for the engine.
    const status = await runCli(["status"], { cwd: p.dir, env });
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toMatch(
      new RegExp(`last run \\(foreground, .*\\) ended because the Docker engine \\(${engine.host.replace(/[./]/g, "\\$&")}\\) stopped`),
    );
    expect(status.stderr).toContain("the last run's containers are removed once it answers");

    // The engine back: its stopped containers are still there, until the next command removes them.
    await engine.start();
    expect((await containers()).length).toBeGreaterThan(0);
    const down = await runCli(["down"], { cwd: p.dir, env });
    expect(down.exitCode, down.stderr).toBe(0);
    expect(down.stderr).toMatch(/stopped what it left: container envoywasm-engine-\w+-/);
    expect(await containers()).toEqual([]);
    await expectAllStopped(p.dir, Object.values(p.ports));
    expect(userFiles(p.dir)).toBe(before);
  });
});
