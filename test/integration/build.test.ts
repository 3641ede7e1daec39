import { execa } from "execa";
import { createHash } from "node:crypto";
import { appendFile, chmod, cp, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkModule, inspectModule } from "../../src/wasm/check.js";
import { BIN, removeTempDirs, runCli, tempDir } from "../helpers/cli.js";
import { waitFor } from "../helpers/wait.js";

afterAll(removeTempDirs);

// The run's Envoy, which test/global-setup.ts found or installed.
const ENVOY = process.env.ENVOYWASM_TEST_ENVOY ?? "envoy";
const GO_TEMPLATES = ["headers", "add-header", "auth"] as const;

/** One project per template, built once, shared by the tests below. */
const projects = new Map<string, string>();

beforeAll(async () => {
  const root = await tempDir();
  for (const template of GO_TEMPLATES) {
    const r = await runCli(["init", `b-${template}`, "--template", template], { cwd: root });
    expect(r.exitCode, r.stderr).toBe(0);
    projects.set(template, path.join(root, `b-${template}`));
  }
});

describe("envoywasm build (go toolchain, real Go)", () => {
  for (const template of GO_TEMPLATES) {
    it(`builds the ${template} template to a module Envoy accepts`, async () => {
      const dir = projects.get(template)!;
      const r = await runCli(["build", "--json"], { cwd: dir });
      expect(r.exitCode, r.stderr).toBe(0);
      const { plugins } = JSON.parse(r.stdout) as { plugins: { dir: string; wasm: string; bytes: number; sha256: string; upToDate: boolean }[] };
      expect(plugins).toHaveLength(1);
      const out = plugins[0]!;
      expect(out).toMatchObject({ dir: "plugin", wasm: path.join(dir, `build/b-${template}.wasm`), upToDate: false });
      const bytes = await readFile(out.wasm);
      expect(bytes.length).toBe(out.bytes);
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(out.sha256);
      const facts = await inspectModule(bytes);
      expect(facts.exports).toEqual(
        expect.arrayContaining([
          "_initialize",
          "memory",
          "proxy_on_context_create",
          "proxy_on_vm_start",
          "proxy_on_request_headers",
          "proxy_on_memory_allocate",
        ]),
      );
      expect(facts.exports).not.toContain("_start");
      expect(facts.abiVersion).toMatch(/^0_2_\d$/);
      expect(checkModule(facts, { toolchain: "go", envoyVersion: "1.40.0" }).errors).toEqual([]);
    });
  }

  it("the generated envoy.yaml runs as it is in plain Envoy (envoy --mode validate, which loads the module)", async () => {
    const dir = projects.get("add-header")!;
    expect((await runCli(["build"], { cwd: dir })).exitCode).toBe(0);
    const validate = await execa(ENVOY, ["--mode", "validate", "-c", "envoy.yaml"], { cwd: dir, reject: false, all: true });
    expect(validate.all).toContain("OK");
    expect(validate.exitCode).toBe(0);
  });

  it("skips an up-to-date build, rebuilds on a change and with --force", async () => {
    const dir = projects.get("headers")!;
    expect((await runCli(["build"], { cwd: dir })).exitCode).toBe(0);
    const upToDate = (r: { stdout: string }) => (JSON.parse(r.stdout) as { plugins: { upToDate: boolean }[] }).plugins[0]!.upToDate;
    const again = await runCli(["build", "--json"], { cwd: dir });
    expect(upToDate(again)).toBe(true);
    const human = await runCli(["build"], { cwd: path.join(dir, "plugin") });
    expect(human.stderr).toContain("is up to date");
    expect(human.stdout.trim()).toBe(path.join(dir, "build/b-headers.wasm"));

    const forced = await runCli(["build", "--force", "--json"], { cwd: dir });
    expect(upToDate(forced)).toBe(false);

    const main = path.join(dir, "plugin/main.go");
    await writeFile(main, `${await readFile(main, "utf8")}\n// a change\n`);
    const changed = await runCli(["build", "--json"], { cwd: dir });
    expect(upToDate(changed)).toBe(false);

    // A test file does not change the module.
    const test = path.join(dir, "plugin/main_test.go");
    await writeFile(test, `${await readFile(test, "utf8")}\n// a test change\n`);
    expect(upToDate(await runCli(["build", "--json"], { cwd: dir }))).toBe(true);
  });

  it("answers a no-op build without compiling, and rebuilds for anything that could change the module", async () => {
    const dir = projects.get("auth")!;
    expect((await runCli(["build"], { cwd: dir })).exitCode).toBe(0);
    const wasm = path.join(dir, "build/b-auth.wasm");
    // Progress shows only when something compiles.
    const fast = await runCli(["build"], { cwd: path.join(dir, "plugin") });
    expect(fast.exitCode).toBe(0);
    expect(fast.stderr).not.toContain("compiling");
    expect(fast.stderr).toMatch(/✔ build\/b-auth\.wasm \(\d\.\d MiB, sha256 [0-9a-f]{12}\) is up to date \(\d+ ms\); --force rebuilds/);
    expect(fast.stdout.trim()).toBe(wasm);
    const json = JSON.parse((await runCli(["build", "--json"], { cwd: dir })).stdout) as { plugins: { wasm: string; sha256: string; upToDate: boolean }[] };
    expect(json.plugins).toEqual([
      expect.objectContaining({
        wasm,
        upToDate: true,
        sha256: createHash("sha256")
          .update(await readFile(wasm))
          .digest("hex"),
      }),
    ]);

    // The plugin folder moved away after a good build: named by the full path, not an internal error.
    await rename(path.join(dir, "plugin"), path.join(dir, "plugin-moved"));
    const moved = await runCli(["build"], { cwd: dir });
    expect(moved.exitCode).toBe(1);
    expect(moved.stderr).toContain("error: plugin/go.mod not found");
    await rename(path.join(dir, "plugin-moved"), path.join(dir, "plugin"));
    expect((await runCli(["build"], { cwd: dir })).stderr).toContain("is up to date");

    const fullBuild = async (env: Record<string, string> = {}) => {
      const r = await runCli(["build"], { cwd: dir, env });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stderr).toContain("compiling plugin/ with go");
      return r;
    };
    // An edit that keeps the file's size: only its mtime tells.
    const main = path.join(dir, "plugin/main.go");
    const code = await readFile(main, "utf8");
    const edited = code.replace(/"([a-z])/, (_m, c: string) => `"${c === "x" ? "y" : "x"}`);
    expect(edited.length).toBe(code.length);
    await writeFile(main, edited);
    expect((await fullBuild()).stderr).toContain("built build/b-auth.wasm");
    expect((await runCli(["build"], { cwd: dir })).stderr).not.toContain("compiling");
    // A file added to the plugin.
    await writeFile(path.join(dir, "plugin/extra.go"), "package main\n\nconst extra = 1\n");
    await fullBuild();
    // Another environment for the compiler.
    expect((await fullBuild({ GOFLAGS: "-modcacherw -trimpath" })).stderr).toContain("built build/b-auth.wasm");
    // The module gone.
    await writeFile(wasm, "");
    expect((await fullBuild()).stderr).toContain("built build/b-auth.wasm");
    expect((await readFile(wasm)).length).toBeGreaterThan(1000);

    // envoywasm.yaml's build.flags: a change rebuilds, and they reach go build and go test (files only that tag builds).
    const project = path.join(dir, "envoywasm.yaml");
    const settings = await readFile(project, "utf8");
    await writeFile(
      path.join(dir, "plugin/tagged_test.go"),
      '//go:build envoywasm_tagged\n\npackage main\n\nimport "testing"\n\nfunc TestTagged(t *testing.T) { t.Fatal("the tag reached go test") }\n',
    );
    await writeFile(project, `${settings}build:\n  flags: [-tags=envoywasm_tagged]\n`);
    expect((await fullBuild()).stderr).toContain("built build/b-auth.wasm");
    const tested = await runCli(["test", "--run", "TestTagged"], { cwd: dir });
    expect(tested.exitCode).toBe(1);
    expect(tested.stdout).toContain("the tag reached go test");
    await writeFile(path.join(dir, "plugin/tagged.go"), '//go:build envoywasm_tagged\n\npackage main\n\nvar _ int = "only with the tag"\n');
    const broken = await runCli(["build"], { cwd: dir });
    expect(broken.exitCode).toBe(1);
    expect(broken.stderr).toMatch(/plugin\/tagged\.go:5:\d+: cannot use "only with the tag"/);
    await rm(path.join(dir, "plugin/tagged.go"));
    await rm(path.join(dir, "plugin/tagged_test.go"));
    await writeFile(project, settings);
  });

  it("shows compiler errors with project-relative paths, exits 1 and keeps the last good module", async () => {
    const root = await tempDir();
    expect((await runCli(["init", "broken", "--template", "headers"], { cwd: root })).exitCode).toBe(0);
    const dir = path.join(root, "broken");
    expect((await runCli(["build"], { cwd: dir })).exitCode).toBe(0);
    const before = await readFile(path.join(dir, "build/broken.wasm"));
    const main = path.join(dir, "plugin/main.go");
    await writeFile(main, (await readFile(main, "utf8")).replace("func main() {}", "func main() { undefinedThing() }"));
    const r = await runCli(["build"], { cwd: dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/plugin\/main\.go:\d+:\d+: undefined: undefinedThing/);
    expect(r.stderr).not.toMatch(/^\.\/main\.go/m);
    expect(r.stderr).toContain("error: plugin/ did not compile");
    expect(await readFile(path.join(dir, "build/broken.wasm"))).toEqual(before);
  });

  it("refuses a module that is not a proxy-wasm plugin, naming the missing export", async () => {
    const root = await tempDir();
    expect((await runCli(["init", "notplugin"], { cwd: root })).exitCode).toBe(0);
    const dir = path.join(root, "notplugin");
    await writeFile(path.join(dir, "plugin/main.go"), 'package main\n\nimport "fmt"\n\nfunc init() { fmt.Println("hi") }\n\nfunc main() {}\n');
    const r = await runCli(["build"], { cwd: dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("the module built from plugin/ would not load in Envoy");
    expect(r.stderr).toContain("it is not a proxy-wasm plugin: no proxy_abi_version_* export");
    expect(r.stderr).toContain("nothing was written to build/notplugin.wasm");
  });
});

describe("the same sources and Go give the same module anywhere", () => {
  it("builds identical bytes in another folder, with other Go caches and HOME, from a git checkout or not; package then gives the same digests", async () => {
    const copy = async (to: string) => {
      await cp(projects.get("headers")!, to, { recursive: true, filter: (src) => !/\/(build|\.envoywasm)$/.test(src) });
      return to;
    };
    // A git checkout with a commit: go build would stamp the commit and the tree's state into the module.
    const a = await copy(path.join(await tempDir(), "b-headers"));
    await execa("git", ["init", "-q"], { cwd: a });
    await execa("git", ["add", "-A"], { cwd: a });
    await execa("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "plugin"], { cwd: a });
    // A plain copy elsewhere, under another name, built with caches and a HOME of its own; the modules come from
    // this run's module cache as from a proxy (no network, no file shared).
    const b = await copy(path.join(await tempDir("envoywasm-elsewhere-"), "some", "other-name"));
    const other = await tempDir("envoywasm-other-go-");
    await mkdir(path.join(other, "home"));
    const env = {
      HOME: path.join(other, "home"),
      GOPATH: path.join(other, "go"),
      GOMODCACHE: path.join(other, "go", "pkg", "mod"),
      // A build cache of its own, kept in the checkout's .test-cache as the run's own is: the first run compiles the
      // standard library into it (~20 s of CPU), later runs do not. The module's bytes cannot depend on where it is.
      GOCACHE: path.join(path.dirname(process.env.GOCACHE!), "go-build-elsewhere"),
      GOPROXY: `file://${path.join(process.env.GOMODCACHE!, "cache", "download")}`,
      GOSUMDB: "off",
    };
    const built = async (dir: string, e: Record<string, string> = {}) => {
      const r = await runCli(["build", "--json"], { cwd: dir, env: e });
      expect(r.exitCode, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { plugins: { sha256: string; upToDate: boolean }[] }).plugins[0]!;
    };
    const [first, second] = [await built(a), await built(b, env)];
    expect(second.upToDate).toBe(false);
    expect(second.sha256).toBe(first.sha256);

    const layout = async (dir: string, e: Record<string, string> = {}) => {
      const r = await runCli(["package", "--oci-layout", path.join(dir, "..", "layout"), "--tag", "b-headers:same", "--json"], { cwd: dir, env: e });
      expect(r.exitCode, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { manifestDigest: string; moduleSha256: string }).manifestDigest;
    };
    expect(await layout(b, env)).toBe(await layout(a));
  });
});

describe("a plugin's compile", () => {
  /** A project whose `go` on PATH is a stand-in that logs each call and then runs the real go (or, with SLOW_GO, sleeps instead of building). */
  async function project(): Promise<{ dir: string; env: Record<string, string>; calls: () => Promise<string[][]>; setValue: (v: string) => Promise<void> }> {
    const root = await tempDir();
    expect((await runCli(["init", "compiled", "--template", "add-header"], { cwd: root })).exitCode).toBe(0);
    const bin = path.join(root, "bin");
    const log = path.join(root, "go-calls.txt");
    const realGo = (await execa("go", ["env", "GOROOT"])).stdout.trim() + "/bin/go";
    await mkdir(bin);
    await writeFile(
      path.join(bin, "go"),
      `#!/bin/sh\necho "$$ $*" >> ${log}\nif [ "$1" = build ] && [ -n "$SLOW_GO" ]; then exec sleep 60; fi\nexec ${realGo} "$@"\n`,
    );
    await chmod(path.join(bin, "go"), 0o755);
    const dir = path.join(root, "compiled");
    const main = path.join(dir, "plugin/main.go");
    return {
      dir,
      // Its own envoywasm cache: the memo of `go version` is keyed by the go binary, and other test files build with the real one.
      env: { PATH: `${bin}:${process.env.PATH}`, ENVOYWASM_HOME: await tempDir("envoywasm-home-") },
      calls: async () =>
        (await readFile(log, "utf8").catch(() => ""))
          .trim()
          .split("\n")
          .filter(Boolean)
          .map((l) => l.split(" ")),
      setValue: async (v) => writeFile(main, (await readFile(main, "utf8")).replace(/defaultValue(\s*)= "[^"]*"/, `defaultValue$1= "${v}"`)),
    };
  }
  const builds = (calls: string[][]) => calls.filter((c) => c[1] === "build");
  const temps = async (dir: string) => (await readdir(path.join(dir, "build"))).filter((f) => f.endsWith(".tmp"));

  it("a changed plugin compiles once; the build after it compiles nothing, runs no program and writes nothing", async () => {
    const p = await project();
    expect((await runCli(["build"], { cwd: p.dir, env: p.env })).exitCode).toBe(0);
    const before = (await p.calls()).length;
    await p.setValue("changed-1");
    const r = await runCli(["build", "--json"], { cwd: p.dir, env: p.env });
    expect(r.exitCode, r.stderr).toBe(0);
    const after = builds((await p.calls()).slice(before));
    expect(after).toHaveLength(1);
    expect(after[0]!.join(" ")).toMatch(/ -o \.\.\/build\/\.compiled\.wasm\.[0-9a-f]+\.tmp \.$/);
    const out = (JSON.parse(r.stdout) as { plugins: { wasm: string; upToDate: boolean; sha256: string }[] }).plugins[0]!;
    expect(out.upToDate).toBe(false);
    const bytes = await readFile(out.wasm);
    expect(bytes.includes("changed-1")).toBe(true);
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(out.sha256);
    expect(await temps(p.dir)).toEqual([]);
    // Nothing changed since: decided from the build's records alone (read-only).
    const state = path.join(p.dir, ".envoywasm");
    const listing = async () =>
      Promise.all((await readdir(state, { recursive: true })).sort().map(async (f) => `${f} ${(await stat(path.join(state, f))).mtimeMs}`));
    const was = await listing();
    const calls = (await p.calls()).length;
    expect((await runCli(["build"], { cwd: p.dir, env: p.env })).stderr).toContain("is up to date");
    expect((await p.calls()).length).toBe(calls);
    expect(await listing()).toEqual(was);
  });

  it("SIGTERM while the compiler runs stops it, removes its output and exits 143, keeping the last good module", async () => {
    const p = await project();
    expect((await runCli(["build"], { cwd: p.dir, env: p.env })).exitCode).toBe(0);
    const before = builds(await p.calls()).length;
    await p.setValue("interrupted");
    const cli = execa(process.execPath, [BIN, "build"], { cwd: p.dir, env: { ...p.env, SLOW_GO: "1", NO_COLOR: "1" }, reject: false, all: true });
    await waitFor(async () => builds(await p.calls()).length > before, 30_000, "the stand-in go build to start");
    const goPid = Number(builds(await p.calls())[before]![0]);
    cli.kill("SIGTERM");
    const r = await cli;
    expect(r.exitCode, r.all).toBe(143);
    expect(() => process.kill(goPid, 0)).toThrow();
    expect(await temps(p.dir)).toEqual([]);
    expect((await readFile(path.join(p.dir, "build/compiled.wasm"))).length).toBeGreaterThan(1000);
  });
});

describe("toolchain checks", () => {
  /** A folder for PATH that holds a stand-in program and nothing else. */
  async function fakeBin(name: string, script: string): Promise<string> {
    const dir = await tempDir("envoywasm-bin-");
    await writeFile(path.join(dir, name), `#!/bin/sh\n${script}\n`);
    await chmod(path.join(dir, name), 0o755);
    return dir;
  }

  it("names the Go it found when it is older than 1.24 (stand-in `go` printing an old version)", async () => {
    const root = await tempDir();
    expect((await runCli(["init", "oldgo"], { cwd: root })).exitCode).toBe(0);
    const bin = await fakeBin("go", 'echo "go version go1.22.5 linux/amd64"');
    const r = await runCli(["build"], { cwd: path.join(root, "oldgo"), env: { PATH: `${bin}:/usr/bin:/bin` } });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("found Go 1.22.5, but building a proxy-wasm plugin with Go needs Go 1.24 or newer");
  });

  it("says how to get TinyGo when a tinygo project is built without it", async () => {
    const root = await tempDir();
    expect((await runCli(["init", "tg", "--toolchain", "tinygo"], { cwd: root })).exitCode).toBe(0);
    const r = await runCli(["build"], { cwd: path.join(root, "tg"), env: { PATH: path.dirname(process.execPath) + ":/usr/bin:/bin" } });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("tinygo was not found on PATH");
    expect(r.stderr).toContain("tinygo.org");
  });

  // TinyGo cannot be installed here. This checks the exact command line envoywasm
  // runs for it, with a stand-in that records its arguments; it compiles nothing.
  it("runs `tinygo build -o <tmp> -scheduler=none -target=wasi [build.flags] .` in the plugin folder", async () => {
    const root = await tempDir();
    expect((await runCli(["init", "tg2", "--toolchain", "tinygo"], { cwd: root })).exitCode).toBe(0);
    const log = path.join(root, "tinygo-args.txt");
    const bin = await fakeBin(
      "tinygo",
      `if [ "$1" = version ]; then echo "tinygo version 0.37.0 linux/amd64 (using go version go1.24.0)"; exit 0; fi\npwd > ${log}\necho "$@" >> ${log}\necho "stand-in tinygo: not a compiler" >&2\nexit 3`,
    );
    const r = await runCli(["build"], { cwd: path.join(root, "tg2"), env: { PATH: `${bin}:${process.env.PATH}` } });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("stand-in tinygo: not a compiler");
    const [cwd, args] = (await readFile(log, "utf8")).trim().split("\n");
    expect(cwd).toBe(path.join(root, "tg2", "plugin"));
    expect(args).toMatch(/^build -o \.\.\/build\/\.tg2\.wasm\.[0-9a-f]+\.tmp -scheduler=none -target=wasi \.$/);
    // envoywasm.yaml's build.flags (coraza-proxy-wasm's, for instance) go before the package.
    await appendFile(path.join(root, "tg2", "envoywasm.yaml"), 'build:\n  flags: [-gc=custom, "-tags=custommalloc nottinygc_envoy"]\n');
    await runCli(["build"], { cwd: path.join(root, "tg2"), env: { PATH: `${bin}:${process.env.PATH}` } });
    expect((await readFile(log, "utf8")).trim().split("\n")[1]).toMatch(/ -target=wasi -gc=custom -tags=custommalloc nottinygc_envoy \.$/);
  });

  // The tinygo templates' own unit tests run on the SDK's emulator under regular Go.
  for (const template of GO_TEMPLATES) {
    it(`the tinygo ${template} template's Go tests pass natively`, async () => {
      const root = await tempDir();
      expect((await runCli(["init", "tgt", "--toolchain", "tinygo", "--template", template], { cwd: root })).exitCode).toBe(0);
      const r = await execa("go", ["test", "-count=1", "./..."], { cwd: path.join(root, "tgt", "plugin"), reject: false, all: true });
      expect(r.all).toMatch(/^ok\s/m);
      expect(r.exitCode).toBe(0);
    });
  }
});
