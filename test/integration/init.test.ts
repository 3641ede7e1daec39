import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseProjectConfig } from "../../src/project/config.js";
import { removeTempDirs, runCli, tempDir } from "../helpers/cli.js";
import { actionlint } from "../helpers/actionlint.js";
import { execa } from "execa";

afterAll(removeTempDirs);

const TEMPLATES = ["headers", "add-header", "auth"] as const;
const TOOLCHAINS = ["go", "tinygo"] as const;

describe("envoywasm init", () => {
  for (const template of TEMPLATES) {
    for (const toolchain of TOOLCHAINS) {
      it(`writes a ${template} project for ${toolchain}`, async () => {
        const root = await tempDir();
        const r = await runCli(["init", "demo-plugin", "--template", template, "--toolchain", toolchain, "--listener-port", "9085"], { cwd: root });
        expect(r.stderr).toContain(`created demo-plugin (${template} template, ${toolchain} toolchain)`);
        expect(r.exitCode).toBe(0);
        const dir = path.join(root, "demo-plugin");
        for (const f of [
          "envoywasm.yaml",
          "envoy.yaml",
          ".gitignore",
          "README.md",
          "plugin/go.mod",
          "plugin/go.sum",
          "plugin/main.go",
          "plugin/main_test.go",
          "backend/go.mod",
          "backend/main.go",
        ]) {
          expect(existsSync(path.join(dir, f)), f).toBe(true);
          expect(r.stdout).toContain(f);
        }
        const config = parseProjectConfig(await readFile(path.join(dir, "envoywasm.yaml"), "utf8"));
        expect(config).toMatchObject({ name: "demo-plugin", toolchain, plugins: ["plugin"], backend: { dir: "backend" } });
        // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parsed envoy.yaml, walked by the assertions below
        const envoy = parse(await readFile(path.join(dir, "envoy.yaml"), "utf8")) as Record<string, any>;
        expect(envoy.admin.address.socket_address).toEqual({ address: "127.0.0.1", port_value: 8001 });
        const listener = envoy.static_resources.listeners[0];
        expect(listener.address.socket_address).toEqual({ address: "127.0.0.1", port_value: 9085 });
        const filters = listener.filter_chains[0].filters[0].typed_config.http_filters;
        expect(filters[1].typed_config["@type"]).toBe("type.googleapis.com/envoy.extensions.filters.http.router.v3.Router");
        const wasm = filters[0].typed_config.config;
        expect(wasm.vm_config.code.local.filename).toBe("build/demo-plugin.wasm");
        expect(wasm.root_id).toBe("demo-plugin");
        expect(JSON.parse(wasm.configuration.value)).toEqual(template === "headers" ? {} : expect.objectContaining({ header: expect.any(String) }));
        expect(envoy.static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({
          address: "127.0.0.1",
          port_value: 8080,
        });
        const gomod = await readFile(path.join(dir, "plugin/go.mod"), "utf8");
        expect(gomod).toContain("module example.com/demo-plugin/plugin");
        expect(gomod).toContain(toolchain === "go" ? "github.com/proxy-wasm/proxy-wasm-go-sdk" : "github.com/tetratelabs/proxy-wasm-go-sdk");
      });
    }
  }

  it("refuses a folder that is not empty, and writes nothing", async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, "notes.txt"), "mine");
    const r = await runCli(["init", "--name", "x"], { cwd: dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/error: .* is not empty \(it has notes\.txt\)/);
    expect(r.stderr).toContain("--force");
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(existsSync(path.join(dir, "envoywasm.yaml"))).toBe(false);
  });

  it("with --force adds the template's missing files and never overwrites one, listing what it kept", async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, "notes.txt"), "mine");
    await writeFile(path.join(dir, "envoy.yaml"), "my own envoy.yaml\n");
    await mkdir(path.join(dir, "plugin"));
    await writeFile(path.join(dir, "plugin", "main.go"), "package main // my edits\n");
    const r = await runCli(["init", "--name", "x", "--force"], { cwd: dir });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await readFile(path.join(dir, "notes.txt"), "utf8")).toBe("mine");
    expect(await readFile(path.join(dir, "envoy.yaml"), "utf8")).toBe("my own envoy.yaml\n");
    expect(await readFile(path.join(dir, "plugin", "main.go"), "utf8")).toBe("package main // my edits\n");
    expect(r.stdout).toContain("! envoy.yaml (kept yours: it differs from what init would write, which was not written)");
    expect(r.stdout).toContain("! plugin/main.go (kept yours");
    expect(r.stdout).toContain("+ plugin/main_test.go");
    // Run again: everything is there now, and what init wrote is unchanged.
    const again = await runCli(["init", "--name", "x", "--force"], { cwd: dir });
    expect(again.stdout).toContain("= plugin/main_test.go (already there, unchanged)");
    expect(again.stdout).not.toMatch(/^\s+\+ /m);
  });

  it("rejects a bad name with exit 2, naming the flag", async () => {
    const dir = await tempDir();
    const r = await runCli(["init", "--name", "My_Plugin"], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('--name "My_Plugin"');
    expect(r.stderr).toContain("lowercase letters");
  });

  it("rejects clashing ports and an unknown template", async () => {
    const dir = await tempDir();
    const ports = await runCli(["init", "a", "--listener-port", "8080", "--backend-port", "8080"], { cwd: dir });
    expect(ports.exitCode).toBe(2);
    expect(ports.stderr).toContain("error: --listener-port 8080: 8080 is already the backend port; each port needs its own number");
    const notAPort = await runCli(["init", "a", "--admin-port", "http"], { cwd: dir });
    expect(notAPort.exitCode).toBe(2);
    expect(notAPort.stderr).toContain("option '--admin-port <port>' argument 'http' is invalid");
    const template = await runCli(["init", "b", "--template", "nope"], { cwd: dir });
    expect(template.exitCode).toBe(2);
    expect(template.stderr).toContain("Allowed choices are headers, add-header, auth");
    expect(existsSync(path.join(dir, "a"))).toBe(false);
  });

  it("without a terminal, a folder name that is not a valid name needs --name", async () => {
    const root = await tempDir();
    await mkdir(path.join(root, "Bad Name!"));
    const r = await runCli(["init"], { cwd: path.join(root, "Bad Name!") });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("pass --name <name>");
  });

  it("escapes values for where they land (module path in go.mod, names in YAML and Go)", async () => {
    const dir = await tempDir();
    const r = await runCli(["init", "p", "--module", "github.com/o/p-1.x/plugin", "--template", "add-header"], { cwd: dir });
    expect(r.exitCode).toBe(0);
    expect(await readFile(path.join(dir, "p/plugin/go.mod"), "utf8")).toMatch(/^module github\.com\/o\/p-1\.x\/plugin$/m);
    const bad = await runCli(["init", "q", "--module", 'evil"\nmodule x'], { cwd: dir });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("not a Go module path");
    // The folder in Next: is quoted for the shell.
    const spaced = await runCli(["init", "my plugin's", "--name", "spaced"], { cwd: dir });
    expect(spaced.exitCode, spaced.stderr).toBe(0);
    expect(spaced.stdout).toContain("  cd 'my plugin'\\''s'\n");
  });
});

describe("what init writes besides the plugin", () => {
  it("a GitHub Actions workflow that actionlint accepts, for a Go, a TinyGo and a Rust project; no try: in envoywasm.yaml", async () => {
    const root = await tempDir();
    const lint = await actionlint();
    for (const [name, toolchain] of [
      ["g", "go"],
      ["t", "tinygo"],
      ["r", "rust"],
    ] as const) {
      const r = await runCli(["init", name, "--toolchain", toolchain, "--template", "auth"], { cwd: root });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toContain("+ .github/workflows/envoywasm.yml");
      const workflow = path.join(root, name, ".github/workflows/envoywasm.yml");
      const checked = await execa(lint, ["-no-color", workflow], { reject: false });
      expect(checked.exitCode, checked.stdout + checked.stderr).toBe(0);
      const text = await readFile(workflow, "utf8");
      expect(text).toContain(toolchain === "rust" ? "rustup target add wasm32-wasip1" : 'go-version-file: "plugin/go.mod"');
      expect(text).toContain("run: envoywasm test --e2e --junit build/e2e.xml");
      expect(parseProjectConfig(await readFile(path.join(root, name, "envoywasm.yaml"), "utf8")).try).toBeUndefined();
    }
    // actionlint finds what is wrong (so its pass above means something).
    const bad = path.join(root, "bad.yml");
    await writeFile(bad, (await readFile(path.join(root, "g/.github/workflows/envoywasm.yml"), "utf8")).replace("go-version-file", "go-version-fil"));
    expect((await execa(lint, ["-no-color", bad], { reject: false })).stdout).toContain('input "go-version-fil" is not defined');
  });

  it("envoywasm migrate moves try: to e2e/try.yaml as cases, says so, and then has nothing to do", async () => {
    const root = await tempDir();
    expect((await runCli(["init", "p", "--template", "auth"], { cwd: root })).exitCode).toBe(0);
    const dir = path.join(root, "p");
    const file = path.join(dir, "envoywasm.yaml");
    const before = await readFile(file, "utf8");
    await writeFile(
      file,
      `${before}\n# Requests up suggests.\ntry:\n  - path: /hello\n    headers: { "{config.header}": "{config.value}" }\n  - { method: POST, path: /anything }\n`,
    );
    const r = await runCli(["migrate"], { cwd: dir });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain("+ e2e/try.yaml: 2 cases, one per try: request");
    expect(r.stdout).toContain("~ envoywasm.yaml: removed try:");
    expect(await readFile(file, "utf8")).toBe(before);
    const cases = parse(await readFile(path.join(dir, "e2e/try.yaml"), "utf8")) as { cases: unknown[] };
    expect(cases.cases).toEqual([
      { name: "GET /hello", request: { path: "/hello", headers: { "{config.header}": "{config.value}" } }, expect: {} },
      { name: "POST /anything", request: { method: "POST", path: "/anything" }, expect: {} },
    ]);
    const again = await runCli(["migrate", "--json"], { cwd: dir });
    expect(JSON.parse(again.stdout)).toEqual({ changes: [] });
    // A second try: would overwrite the cases moved before: refused, nothing changed.
    await writeFile(file, `${before}try:\n  - path: /\n`);
    const refused = await runCli(["migrate"], { cwd: dir });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain("e2e/try.yaml is there already");
    expect(await readFile(file, "utf8")).toContain("try:");
  });
});

describe("envoywasm.yaml errors", () => {
  it("points at file:line:column for YAML syntax and for wrong values, from any folder of the project", async () => {
    const dir = await tempDir();
    expect((await runCli(["init", "--name", "cfg"], { cwd: dir })).exitCode).toBe(0);
    const file = path.join(dir, "envoywasm.yaml");
    const good = await readFile(file, "utf8");

    await writeFile(file, good.replace('plugins:\n  - "plugin"', 'plugins:\n  - ["plugin"'));
    let r = await runCli(["build"], { cwd: path.join(dir, "plugin") });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/envoywasm\.yaml:\d+:\d+: invalid YAML/);
    expect(r.stderr).not.toContain("building");

    await writeFile(file, good.replace('toolchain: "go"', "toolchain: zig"));
    r = await runCli(["build"], { cwd: path.join(dir, "backend") });
    const line = good.split("\n").findIndex((l) => l.startsWith("toolchain:")) + 1;
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`../envoywasm.yaml:${line}:12: toolchain must be one of go, tinygo, rust (got "zig")`);
  });

  it("says how to start when there is no project", async () => {
    const dir = await tempDir();
    const r = await runCli(["build"], { cwd: dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("no envoywasm.yaml found");
    expect(r.stderr).toContain("envoywasm init");
  });
});
