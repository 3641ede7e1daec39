import { readFile, writeFile } from "node:fs/promises";
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
  for (const template of GO_TEMPLATES) {
    it(`envoywasm test runs the ${template} plugin's tests natively and against the built .wasm, and counts them`, async () => {
      const dir = projects.get(template)!;
      const r = await runCli(["test", "-v"], { cwd: dir });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/--- PASS: \S+\/go /);
      expect(r.stdout).toMatch(/--- PASS: \S+\/wasm /);
      expect(r.stderr).toMatch(/✔ plugin tests: \d+ passed, 0 failed, 0 skipped/);
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

      await writeFile(test, `${original}\nfunc TestNeedsANetwork(t *testing.T) { t.Skip("no network in here") }\n`);
      const skipped = await runCli(["test", "--run", "TestNeedsANetwork"], { cwd: dir });
      expect(skipped.exitCode).toBe(0);
      expect(skipped.stderr).toContain("warning: skipped TestNeedsANetwork (plugin/): no network in here");
      expect(skipped.stderr).toContain("warning: plugin tests: 0 passed, 0 failed, 1 skipped; the skipped ones did not run");
      expect(skipped.stderr).not.toContain("✔ plugin tests");

      const none = await runCli(["test", "--run", "NoSuchTest"], { cwd: dir });
      expect(none.exitCode).toBe(1);
      expect(none.stderr).toContain("error: no plugin tests ran");
    } finally {
      await writeFile(test, original);
    }
  });
});
