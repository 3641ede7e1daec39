import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeTempDirs, runCli, tempDir } from "../helpers/cli.js";

/** A failed build's hint says what to do about its cause, told from what the real Go toolchain printed. */
describe("a failed build's hint names its cause", () => {
  let dir: string;
  beforeAll(async () => {
    const root = await tempDir();
    expect((await runCli(["init", "hints", "--template", "add-header"], { cwd: root })).exitCode).toBe(0);
    dir = path.join(root, "hints");
  });
  afterAll(removeTempDirs);

  it("a module that cannot be downloaded: the network and the module proxy, not the code", async () => {
    // A dependency no cache holds, through a module proxy on a port nothing listens on.
    const goMod = path.join(dir, "plugin", "go.mod");
    const before = readFileSync(goMod, "utf8");
    writeFileSync(goMod, `${before}\nrequire example.com/not-cached/anywhere v1.2.3\n`);
    try {
      const cache = await tempDir("envoywasm-modcache-");
      const r = await runCli(["build"], {
        cwd: dir,
        env: { GOPROXY: "http://127.0.0.1:9", GOMODCACHE: cache, GOFLAGS: "-modcacherw", GONOSUMDB: "*", GONOSUMCHECK: "1", GOSUMDB: "off" },
      });
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.stderr).toContain("127.0.0.1:9");
      expect(r.stderr).toContain("hint: a Go module could not be downloaded: check the network and the module proxy");
      expect(r.stderr).not.toContain("fix the code");
    } finally {
      writeFileSync(goMod, before);
    }
  });

  const root = process.getuid?.() === 0;
  it.skipIf(!root)("a full disk (a 1 MiB tmpfs where the module is written; needs root to mount): free space, not the code", async () => {
    const mount = path.join(dir, "build");
    mkdirSync(mount, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mount]);
    try {
      const main = path.join(dir, "plugin", "main.go");
      writeFileSync(main, `${readFileSync(main, "utf8")}\n// changed so it compiles\n`);
      const r = await runCli(["build"], { cwd: dir });
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/no space left on device/);
      expect(r.stderr).toContain("hint: the disk is full: free some space");
    } finally {
      execFileSync("umount", [mount]);
    }
  });
});
