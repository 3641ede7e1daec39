import { createHash } from "node:crypto";
import { chmodSync, cpSync, readFileSync, writeFileSync } from "node:fs";
import { cp, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { checkModule, inspectModule } from "../../src/wasm/check.js";
import { onPath } from "../../src/platform/which.js";
import { freePorts, REPO, removeTempDirs, runCli, tempDir } from "../helpers/cli.js";
import { newProject, runTryLine, type Project } from "../helpers/project.js";
import { expectAllStopped, request, steadyLoad, waitFor } from "../helpers/run.js";

/**
 * The rust toolchain end to end, with real cargo (the wasm32-wasip1 target is
 * provisioned by the test setup), real Envoy and real HTTP: each template
 * from `init --toolchain rust` to requests through Envoy, a saved change and
 * a panic under `up -d --watch`, the missing-target message, a build that
 * gives the same bytes in another folder, and adopting a folder laid out
 * like the Rust SDK's examples. One project per template, one Envoy start
 * each.
 */

const running: { dir: string; ports: number[] }[] = [];
afterAll(async () => {
  for (const p of running.splice(0)) {
    await runCli(["down"], { cwd: p.dir });
    await expectAllStopped(p.dir, p.ports);
  }
  await removeTempDirs();
});

const projects = new Map<string, Project>();
const built = new Map<string, { sha256: string; bytes: number }>();

async function rustProject(template: string): Promise<Project> {
  const p = await newProject(template, `rs-${template}`, ["--toolchain", "rust"]);
  projects.set(template, p);
  return p;
}

/** build --json, and the module checked again here as Envoy 1.40 will load it. */
async function buildAndCheck(p: Project): Promise<{ sha256: string; bytes: number; wasm: string }> {
  const r = await runCli(["build", "--json"], { cwd: p.dir });
  expect(r.exitCode, r.stderr).toBe(0);
  const [plugin] = (JSON.parse(r.stdout) as { plugins: { wasm: string; sha256: string; bytes: number; upToDate: boolean }[] }).plugins;
  expect(plugin!.upToDate).toBe(false);
  const facts = await inspectModule(await readFile(plugin!.wasm));
  // A cdylib for wasm32-wasip1: the SDK's main! exports _initialize; there is no _start.
  expect(facts.exports).toContain("_initialize");
  expect(facts.exports).not.toContain("_start");
  expect(facts.abiVersion).toBe("0_2_1");
  expect(checkModule(facts, { toolchain: "rust", envoyVersion: "1.40.0" }).errors).toEqual([]);
  // A Rust plugin is a small module: the Go templates' are ~3 MB.
  expect(plugin!.bytes).toBeLessThan(512 * 1024);
  return plugin!;
}

async function testsPass(p: Project, count: number): Promise<{ stdout: string; stderr: string }> {
  const r = await runCli(["test"], { cwd: p.dir });
  expect(r.exitCode, r.stderr + r.stdout).toBe(0);
  expect(r.stderr).toContain(`✔ plugin tests: ${count} passed, 0 failed, 0 skipped`);
  return r;
}

async function upDetached(p: Project, args: string[] = []): Promise<string> {
  running.push({ dir: p.dir, ports: Object.values(p.ports) });
  const r = await runCli(["up", "-d", ...args], { cwd: p.dir });
  expect(r.exitCode, r.stderr).toBe(0);
  expect(r.stderr).toMatch(/✔ ready in [\d.]+ m?s \(services up in [\d.]+ m?s\)/);
  return r.stdout;
}

async function down(p: Project): Promise<void> {
  expect((await runCli(["down"], { cwd: p.dir })).exitCode).toBe(0);
  await expectAllStopped(p.dir, Object.values(p.ports));
  running.splice(
    running.findIndex((r) => r.dir === p.dir),
    1,
  );
}

const wasmLogs = async (p: Project) => (await runCli(["logs", "--wasm"], { cwd: p.dir })).stdout;

describe("rust templates: init --toolchain rust → build → cargo test → up -d → requests → down", () => {
  it("headers: logs the request and response headers, each list in one line", async () => {
    const p = await rustProject("headers");
    built.set("headers", await buildAndCheck(p));
    await testsPass(p, 3);
    await upDetached(p);
    const res = await request(p.ports.listener, { path: "/hello", headers: { "x-mine": "one two" } });
    expect(res.status).toBe(200);
    expect(res.body).toBe("hola mundo :)");
    await waitFor(async () => (await wasmLogs(p)).includes("response headers: [[:status 200]"), 10_000, "the response headers' line");
    const logs = await wasmLogs(p);
    expect(logs).toMatch(
      new RegExp(`request headers: \\[\\[:authority 127\\.0\\.0\\.1:${p.ports.listener}\\] \\[:path /hello\\] \\[:method GET\\].* \\[x-mine one two\\]`),
    );
    await down(p);
    // A compile error is told by rustc's own words, without cargo's progress lines.
    const lib = path.join(p.dir, "plugin", "src", "lib.rs");
    const source = readFileSync(lib, "utf8");
    writeFileSync(lib, `${source}\nfn broken() -> u32 { "no" }\n`);
    const broken = await runCli(["build"], { cwd: p.dir });
    writeFileSync(lib, source);
    expect(broken.exitCode).toBe(1);
    expect(broken.stderr).toContain("error[E0308]: mismatched types");
    expect(broken.stderr).toContain("src/lib.rs:");
    expect(broken.stderr).not.toMatch(/^\s*Compiling /m);
  });

  it("auth: 403 without the configured key, 200 with it (up's own try: line); denials at info, the allowed request at debug, the key never logged", async () => {
    const p = await rustProject("auth");
    await buildAndCheck(p);
    // `envoywasm test`: the unit tests, then the e2e cases init wrote, the same file as the Go build's (e2e.test.ts runs those).
    expect(await readFile(path.join(p.dir, "e2e", "auth.yaml"), "utf8")).toBe(await readFile(path.join(REPO, "templates", "e2e", "auth.yaml"), "utf8"));
    const tested = await testsPass(p, 5);
    expect(tested.stdout).toMatch(/^unit: 5 passed, 0 failed$/m);
    expect(tested.stdout).toMatch(/^e2e: 3 passed, 0 failed$/m);
    const up = await upDetached(p);
    const denied = await request(p.ports.listener, { path: "/hello" });
    expect(denied.status).toBe(403);
    expect(denied.body).toBe("forbidden: missing or wrong x-api-key\n");
    expect(denied.headers["content-type"]).toBe("text/plain");
    expect((await request(p.ports.listener, { headers: { "x-api-key": "let-me-out" } })).status).toBe(403);
    // Among the printed try: lines (the e2e cases' requests), one carries the key from envoy.yaml's plugin configuration.
    const tryLine = [...up.matchAll(/try: +(curl .*)$/gm)].map((m) => m[1]!).find((l) => l.includes("x-api-key: let-me-in"));
    expect(tryLine, up).toBeDefined();
    expect(await runTryLine(tryLine!)).toMatch(/^HTTP\/1\.1 200 OK\r?$/m);
    // Decisions at info, the allowed request at debug (up runs the plugin at debug).
    await waitFor(async () => /\[rs-auth debug\] allowed$/m.test(await wasmLogs(p)), 10_000, "the allowed line");
    const logs = await wasmLogs(p);
    expect(logs).toMatch(/\[rs-auth\] denied: missing x-api-key header \(request id [0-9a-f-]{36}\)/);
    expect(logs).toMatch(/\[rs-auth\] denied: wrong x-api-key header value \(request id [0-9a-f-]{36}\)/);
    expect(logs).not.toContain("let-me-in");
    await down(p);
  });

  it("add-header under up -d --watch: adds the configured header, a change to src/lib.rs saved under load serves with no failed request, and a panic is told with its message and src/lib.rs:LINE", async () => {
    const p = await rustProject("add-header");
    await buildAndCheck(p);
    await testsPass(p, 4);
    await upDetached(p, ["--watch"]);
    expect((await request(p.ports.listener)).headers["x-envoywasm"]).toBe(`hello from ${p.name}`);

    const lib = path.join(p.dir, "plugin/src/lib.rs");
    const source = readFileSync(lib, "utf8");
    const added = "self.add_http_response_header(&self.config.header, &self.config.value);";
    expect(source).toContain(added);
    // Saved under a steady load: swapped in place, no request failed, both versions answered.
    const traffic = steadyLoad(p.ports.listener, "x-edited");
    await waitFor(() => traffic.counts.ok > 50, 10_000, "traffic");
    writeFileSync(lib, source.replace(added, `${added}\n        self.add_http_response_header("x-edited", "yes");`));
    await waitFor(() => traffic.counts.versions.has("yes"), 90_000, "the saved change to serve under load");
    const counts = await traffic.stop();
    expect(counts).toMatchObject({ failed: 0, non200: 0 });
    expect([...counts.versions].sort()).toEqual(["none", "yes"]);
    const supervisor = async () => (await runCli(["logs", "supervisor"], { cwd: p.dir })).stdout;
    expect(await supervisor()).toMatch(
      /plugin\/src\/lib\.rs changed: built plugin\/ in [\d.]+ m?s, loaded plugin\/ in place in [\d.]+ m?s; now serving plugin\/ [0-9a-f]{12}/,
    );

    // A panic on request (in a request callback added here: the template acts on the response only);
    // its line in the file is where the report must point.
    const opening = "impl HttpContext for AddHeader {";
    const edited = readFileSync(lib, "utf8");
    expect(edited).toContain(opening);
    const withPanic = edited.replace(
      opening,
      `${opening}\n    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {\n        if self.get_http_request_header("x-panic").is_some() {\n            panic!("asked to panic");\n        }\n        Action::Continue\n    }\n`,
    );
    const line = withPanic.split("\n").findIndex((l) => l.includes('panic!("asked to panic")')) + 1;
    writeFileSync(lib, withPanic);
    await waitFor(async () => (await supervisor()).match(/plugin\/src\/lib\.rs changed: built/g)?.length === 2, 90_000, "the second reload");
    expect((await request(p.ports.listener)).status).toBe(200);
    expect((await request(p.ports.listener, { headers: { "x-panic": "1" } })).status).toBe(503);
    await waitFor(
      async () => readFileSync(path.join(p.dir, ".envoywasm/logs/envoy.log"), "utf8").includes("Proxy-Wasm plugin in-VM backtrace"),
      10_000,
      "the trap in Envoy's log",
    );
    expect(readFileSync(path.join(p.dir, ".envoywasm/logs/envoy.log"), "utf8")).toContain(`panicked at src/lib.rs:${line}:13: asked to panic`);
    const logs = await runCli(["logs"], { cwd: p.dir });
    expect(logs.stderr).toContain("envoywasm: the plugin panicked: asked to panic (in proxy_on_request_headers)");
    expect(logs.stderr).toContain(`at <rs_add_header::AddHeader as proxy_wasm::traits::HttpContext>::on_http_request_headers (src/lib.rs:${line})`);
    const status = JSON.parse((await runCli(["status", "--json"], { cwd: p.dir })).stdout) as { pluginTraps: { message: string; location: string }[] };
    expect(status.pluginTraps[0]).toMatchObject({ message: "asked to panic", location: `src/lib.rs:${line}` });
    await down(p);
  });
});

describe("rust toolchain: checks and reproducibility", () => {
  it("without the wasm32-wasip1 target, build and doctor say `rustup target add wasm32-wasip1` (exit 1), and install nothing", async () => {
    const p = projects.get("headers") ?? (await rustProject("headers"));
    // A stand-in rustc whose sysroot has no wasm32-wasip1 library, as for a toolchain without the target.
    const bin = await tempDir("envoywasm-stand-in-");
    const rustc = onPath("rustc")!;
    writeFileSync(
      path.join(bin, "rustc"),
      `#!/bin/sh\nif [ "$1" = "--print" ] && [ "$2" = "sysroot" ]; then echo "${bin}/sysroot"; exit 0; fi\nexec "${rustc}" "$@"\n`,
    );
    chmodSync(path.join(bin, "rustc"), 0o755);
    const env = { PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}` };
    const r = await runCli(["build", "--force"], { cwd: p.dir, env });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/error: the Rust standard library for wasm32-wasip1 is not installed for rustc \d+\.\d+\.\d+ .*\(.*\/sysroot\)/);
    expect(r.stderr).toContain("hint: run `rustup target add wasm32-wasip1` in");
    expect(r.stderr).toContain("(envoywasm does not install toolchains)");
    const doctor = await runCli(["doctor", "--json"], { cwd: p.dir, env });
    expect(doctor.exitCode).toBe(1);
    const check = (JSON.parse(doctor.stdout) as { checks: { name: string; status: string; fix?: string }[] }).checks.find((c) => c.name === "rust");
    expect(check).toMatchObject({ status: "fail", fix: expect.stringContaining("rustup target add wasm32-wasip1") });
  });

  it("refuses a project name that is one of the plugin's crates (cargo cannot build both in one target/)", async () => {
    const r = await runCli(["init", "serde-json", "--toolchain", "rust", "--yes"], { cwd: await tempDir() });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("error: the project name serde-json is the crate serde_json's, which the plugin depends on");
    expect(r.stderr).toContain("hint: pick another name with --name (e.g. serde-json-plugin)");
  });

  it("builds the same bytes from the same sources in another folder, with another CARGO_HOME and HOME", async () => {
    const p = projects.get("headers")!;
    const first = built.get("headers")!;
    const elsewhere = path.join(await tempDir("envoywasm-elsewhere-"), "some", "deeper", "folder");
    await mkdir(elsewhere, { recursive: true });
    await cp(p.dir, elsewhere, { recursive: true, filter: (src) => !/\/(target|build|\.envoywasm)$/.test(src) });
    // A CARGO_HOME of its own, given the run's downloads (index and .crate files, not their unpacked
    // sources, which cargo unpacks there again): the crates' paths in the module differ unless remapped.
    const other = await tempDir("envoywasm-other-cargo-");
    for (const part of ["index", "cache"]) {
      await cp(path.join(process.env.CARGO_HOME!, "registry", part), path.join(other, "cargo", "registry", part), { recursive: true });
    }
    await mkdir(path.join(other, "home"));
    const env = { CARGO_HOME: path.join(other, "cargo"), HOME: path.join(other, "home"), CARGO_NET_OFFLINE: "true" };
    const r = await runCli(["build", "--json"], { cwd: elsewhere, env });
    expect(r.exitCode, r.stderr).toBe(0);
    const [again] = (JSON.parse(r.stdout) as { plugins: { sha256: string; upToDate: boolean }[] }).plugins;
    expect(again!.upToDate).toBe(false);
    expect(again!.sha256).toBe(first.sha256);
  });
});

// A plugin folder laid out like the Rust SDK's examples/ (written for these tests): a
// `proxy-wasm = { path = "../../" }` dependency, a module under /etc/envoy, a listener on
// 0.0.0.0:10000 written as one mapping, no admin interface, and an httpbin cluster.
const EXAMPLE = fileURLToPath(new URL("../fixtures/examples/rust-tagger/", import.meta.url));

async function treeHash(dir: string): Promise<string> {
  const hash = createHash("sha256");
  for (const entry of (await readdir(dir, { recursive: true, withFileTypes: true })).sort((a, b) =>
    path.join(a.parentPath, a.name).localeCompare(path.join(b.parentPath, b.name)),
  )) {
    if (entry.isFile())
      hash.update(path.relative(dir, path.join(entry.parentPath, entry.name))).update(await readFile(path.join(entry.parentPath, entry.name)));
  }
  return hash.digest("hex");
}

describe("init --from a Rust plugin", () => {
  it("refuses a library crate or a virtual workspace whose plugins are crates below it, naming them, and a git dependency it cannot fetch, writing nothing", async () => {
    const plugin = (name: string, extra = "") =>
      `[package]\nname = "${name}"\nversion = "0.1.0"\nedition = "2021"\n\n[lib]\ncrate-type = ["cdylib"]\n\n[dependencies]\nproxy-wasm = "0.2"\n${extra}`;
    // Higress's wasm-rust: a library on the SDK at the root, each plugin a crate of its own below.
    const lib = await tempDir();
    await writeFile(path.join(lib, "Cargo.toml"), '[package]\nname = "shared"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nproxy-wasm = "0.2"\n');
    await mkdir(path.join(lib, "src"));
    await writeFile(path.join(lib, "src", "lib.rs"), "");
    await mkdir(path.join(lib, "extensions", "say-hello", "src"), { recursive: true });
    await writeFile(path.join(lib, "extensions", "say-hello", "Cargo.toml"), plugin("say-hello", 'shared = { path = "../.." }\n'));
    await writeFile(path.join(lib, "extensions", "say-hello", "src", "lib.rs"), "");
    const cwd = await tempDir();
    const library = await runCli(["init", "--from", lib, "a"], { cwd });
    expect(library.exitCode).toBe(1);
    expect(library.stderr).toContain(`error: ${path.join(lib, "Cargo.toml")} builds a library (no cdylib), not a plugin module`);
    expect(library.stderr).toContain(
      `hint: the plugins are in crates of their own: extensions/say-hello; e.g. envoywasm init --from ${path.join(lib, "extensions/say-hello")}`,
    );
    // A virtual workspace of plugins.
    const ws = await tempDir();
    await writeFile(path.join(ws, "Cargo.toml"), '[workspace]\nmembers = ["crates/a"]\nresolver = "2"\n');
    await mkdir(path.join(ws, "crates", "a", "src"), { recursive: true });
    await writeFile(path.join(ws, "crates", "a", "Cargo.toml"), plugin("a"));
    await writeFile(path.join(ws, "crates", "a", "src", "lib.rs"), "");
    const workspace = await runCli(["init", "--from", ws, "b"], { cwd });
    expect(workspace.exitCode).toBe(1);
    expect(workspace.stderr).toContain("(a virtual workspace)");
    expect(workspace.stderr).toContain("hint: the plugins are in crates of their own: crates/a;");
    // A plugin with a git dependency cargo cannot fetch (3scale-labs/gsoc-wasm-filters' threescalers, here from a host that never resolves).
    const gitDep = await tempDir();
    await writeFile(path.join(gitDep, "Cargo.toml"), plugin("g", 'remote = { git = "https://git.invalid/remote", branch = "main" }\n'));
    await mkdir(path.join(gitDep, "src"));
    await writeFile(path.join(gitDep, "src", "lib.rs"), "");
    const git = await runCli(["init", "--from", gitDep, "c"], { cwd, env: { CARGO_NET_RETRY: "0" } });
    expect(git.exitCode).toBe(1);
    expect(git.stderr).toContain(
      "error: plugin/ needs remote from git (https://git.invalid/remote), which cargo could not fetch from here\nhint: a git dependency",
    );
    expect(await readdir(cwd)).toEqual([]);
  });

  it("adopts a folder like the SDK's examples: the SDK from crates.io, the config taken over, built and served through the generated backend", async () => {
    const [listener, admin, backend] = await freePorts(3);
    const repo = await tempDir("envoywasm-rust-sdk-");
    const source = path.join(repo, "examples", "tagger");
    cpSync(EXAMPLE, source, { recursive: true });
    const envoyYaml = path.join(source, "envoy.yaml");
    await writeFile(envoyYaml, (await readFile(envoyYaml, "utf8")).replace("port_value: 10000", `port_value: ${listener}`));
    // A cargo config naming a wasm target, as many plugin repositories have (this one by the name Rust has since dropped).
    await mkdir(path.join(source, ".cargo"));
    await writeFile(path.join(source, ".cargo", "config.toml"), '[build]\ntarget = "wasm32-wasi"\n');
    const before = await treeHash(repo);
    const dir = path.join(await tempDir(), "tagged");

    const init = await runCli(["init", "--from", source, dir, "--admin-port", String(admin), "--backend-port", String(backend)], { cwd: repo });
    expect(init.exitCode, init.stderr).toBe(0);
    expect(init.stderr).toContain("(rust toolchain)");
    expect(init.stdout).toContain(
      '~ plugin/Cargo.toml: proxy-wasm = { path = "../../" } is now proxy-wasm = "0.2", from crates.io (the path points outside the adopted folder)',
    );
    expect(init.stdout).toContain("~ envoy.yaml: static_resources.listeners is now a list of one");
    expect(init.stdout).toContain(
      "~ envoy.yaml: the module path /etc/envoy/proxy-wasm-plugins/proxy_wasm_example_tagger.wasm is now build/tagged.wasm, where `envoywasm build` writes it",
    );
    expect(init.stdout).toContain(`~ envoy.yaml: listener listeners[0] now binds 127.0.0.1:${listener} instead of 0.0.0.0 (loopback only)`);
    expect(init.stdout).toContain(`~ envoy.yaml: added an admin interface on 127.0.0.1:${admin}`);
    expect(init.stdout).toContain(
      `~ envoy.yaml: cluster httpbin went to httpbin:8080; it now goes to the project's backend on 127.0.0.1:${backend} (httpbin-style endpoints)`,
    );
    expect(init.stdout).toContain("~ plugin/Cargo.lock: written by cargo fetch");
    // Copied, never edited: not even a Cargo.lock or target/ in the original.
    expect(await treeHash(repo)).toBe(before);
    // A starter e2e case from the first route, to the generated backend (run against Envoy for a Go plugin in adopt.test.ts).
    expect(await readFile(path.join(dir, "e2e/starter.yaml"), "utf8")).toMatch(
      /# The backend answers 200: [^\n]*\n[^]*- name: GET \/ through the plugin to the backend\n {4}request:\n {6}path: \/\n {4}expect:\n {6}noLogs:\n/,
    );

    const p: Project = { dir, name: "tagged", ports: { listener: listener!, admin: admin!, backend: backend! } };
    await buildAndCheck(p);
    await upDetached(p);
    const res = await request(listener!, { path: "/anything/x?y=1" });
    expect(res.status).toBe(200);
    expect(res.headers["x-wasm-tagger"]).toBe("rust");
    expect((JSON.parse(res.body) as { headers: Record<string, string> }).headers["x-tagged-by"]).toBe("rust-tagger:/anything/x");
    await waitFor(async () => (await wasmLogs(p)).includes("tagged request /anything/x?y=1"), 10_000, "the plugin's line");
    await down(p);
  });
});
