import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeTempDirs, runCli, tempDir } from "../helpers/cli.js";

afterAll(removeTempDirs);

const GO_TEMPLATES = ["headers", "add-header", "auth"] as const;
const projects = new Map<string, string>();

beforeAll(async () => {
  const root = await tempDir();
  for (const template of GO_TEMPLATES) {
    const r = await runCli(["init", `t-${template}`, "--template", template], { cwd: root });
    expect(r.exitCode, r.stderr).toBe(0);
    projects.set(template, path.join(root, `t-${template}`));
  }
});

describe("envoywasm test (real Go; the SDK's emulator runs the built .wasm)", () => {
  // Each wasm subtest compiles the 3 MB module again in the SDK's emulator (wazero), seconds
  // each: the add-header template's happy path and its refused configurations (the plugin start
  // failing inside the module) run both ways; for the other templates, every test natively and
  // one against the module.
  it("envoywasm test runs the add-header plugin's tests natively and against the built .wasm, and counts them", async () => {
    const dir = projects.get("add-header")!;
    const r = await runCli(["test", "-v", "--run", "^(TestAddsConfiguredHeader|TestInvalidConfigurationFailsPluginStart)$"], { cwd: dir });
    expect(r.exitCode, r.stderr).toBe(0);
    for (const name of ["TestAddsConfiguredHeader/go", "TestAddsConfiguredHeader/wasm", "TestInvalidConfigurationFailsPluginStart/not_JSON/wasm"]) {
      expect(r.stdout).toContain(`--- PASS: ${name} `);
    }
    expect(r.stderr).toMatch(/✔ plugin tests: \d+ passed, 0 failed, 0 skipped/);
  });

  for (const [template, wasmTest] of [
    ["headers", "TestLogsRequestHeadersInOneLine"],
    ["auth", "TestAllowsRightSecret"],
  ] as const) {
    it(`the ${template} template's tests pass natively, and ${wasmTest} against the built .wasm`, async () => {
      const dir = projects.get(template)!;
      const native = await runCli(["test", "-v", "--run", "/go$"], { cwd: dir });
      expect(native.exitCode, native.stderr).toBe(0);
      expect(native.stdout).not.toMatch(/--- (FAIL|SKIP)/);
      expect(native.stderr).toMatch(/✔ plugin tests: [1-9]\d* passed, 0 failed, 0 skipped/);
      const wasm = await runCli(["test", "-v", "--run", `^${wasmTest}$/wasm$`], { cwd: dir });
      expect(wasm.exitCode, wasm.stderr).toBe(0);
      expect(wasm.stdout).toContain(`--- PASS: ${wasmTest}/wasm `);
      expect(wasm.stderr).toContain("✔ plugin tests: 1 passed, 0 failed, 0 skipped");
    });
  }

  it("envoywasm test passes go test's failure through, names the failing test, and never calls skips a success", async () => {
    const dir = projects.get("auth")!;
    const test = path.join(dir, "plugin/main_test.go");
    const original = await readFile(test, "utf8");
    try {
      await writeFile(test, `${original}\nfunc TestMustFail(t *testing.T) { t.Fatal("on purpose") }\n`);
      const failed = await runCli(["test", "--run", "TestMustFail"], { cwd: dir });
      expect(failed.exitCode).toBe(1);
      expect(failed.stdout).toContain("on purpose");
      expect(failed.stderr).toContain("error: plugin tests failed: 0 passed, 1 failed, 0 skipped (TestMustFail)");

      // Tests that do not compile: they did not run (not "failed" with none failing), and the hint names the package.
      await writeFile(test, `${original}\nfunc TestBroken(t *testing.T) { undefinedThing() }\n`);
      const broken = await runCli(["test", "--unit"], { cwd: dir });
      expect(broken.exitCode).toBe(1);
      expect(broken.stderr).toContain("error: plugin tests did not run: 0 passed, 0 failed, 0 skipped");
      expect(broken.stderr).toMatch(/hint: \S+ did not build/);

      await writeFile(test, `${original}\nfunc TestNeedsANetwork(t *testing.T) { t.Skip("no network in here") }\n`);
      const skipped = await runCli(["test", "--run", "TestNeedsANetwork"], { cwd: dir });
      expect(skipped.exitCode).toBe(0);
      expect(skipped.stderr).toContain("warning: skipped TestNeedsANetwork (plugin/): no network in here");
      expect(skipped.stderr).toContain("warning: plugin tests: 0 passed, 0 failed, 1 skipped; the skipped ones did not run");
      expect(skipped.stderr).not.toContain("✔ plugin tests");

      const none = await runCli(["test", "--run", "NoSuchTest"], { cwd: dir });
      expect(none.exitCode).toBe(1);
      expect(none.stderr).toContain("error: no plugin tests ran");

      // Progress as it goes: which command runs, then (not at a terminal) a line per package.
      expect(skipped.stderr).toMatch(/• plugin\/: go test -json/);
      expect(skipped.stderr).toMatch(/✔ \S+ ok/);

      // A plugin with no unit tests at all is said, not failed.
      await rm(test);
      const untested = await runCli(["test"], { cwd: dir });
      expect(untested.exitCode, untested.stderr).toBe(0);
      expect(untested.stderr).toContain("warning: the plugin has no unit tests: add tests (*_test.go) next to it");
    } finally {
      await writeFile(test, original);
    }
  });
});
