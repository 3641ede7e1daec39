import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { expect } from "vitest";
import { freePorts, runCli, spawnCli, tempDir } from "./cli.js";
import { expectAllStopped, waitFor } from "./run.js";

/** A template project with free ports, for the tests that run one; stop it with stopProjects() after each test. */
export interface Project {
  dir: string;
  name: string;
  ports: { listener: number; admin: number; backend: number };
}

const started: Project[] = [];

export async function newProject(template: string, name = `up-${template}`, args: string[] = []): Promise<Project> {
  const root = await tempDir();
  const [listener, admin, backend] = await freePorts(3);
  const r = await runCli(
    ["init", name, "--template", template, "--listener-port", String(listener), "--admin-port", String(admin), "--backend-port", String(backend), ...args],
    { cwd: root },
  );
  expect(r.exitCode, r.stderr).toBe(0);
  const project = { dir: path.join(root, name), name, ports: { listener: listener!, admin: admin!, backend: backend! } };
  started.push(project);
  return project;
}

/** Whatever a test left running is stopped, and then must be gone. */
export async function stopProjects(): Promise<void> {
  for (const p of started.splice(0)) {
    await runCli(["down"], { cwd: p.dir });
    await expectAllStopped(p.dir, Object.values(p.ports));
  }
}

export function edit(file: string, from: string | RegExp, to: string): void {
  const text = readFileSync(file, "utf8");
  const next = text.replace(from, to);
  expect(next, `${file}: ${String(from)}`).not.toBe(text);
  writeFileSync(file, next);
}

export async function statusOf(p: Project): Promise<{
  running: boolean;
  services: { name: string; pid: number; running: boolean; health: string }[];
  listeners: { name: string; port: number }[];
  modules: { plugin: string; wasm: string; sha256: string }[];
}> {
  const r = await runCli(["status", "--json"], { cwd: p.dir });
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

/** Runs a `try:` line exactly as up printed it, with the real curl. */
export async function runTryLine(line: string): Promise<string> {
  const r = await execa("sh", ["-c", line.replace(/^curl /, "curl -sS ")], { reject: false });
  expect(r.exitCode, `${line}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** Makes the plugin write to a nil map (a Go panic) when a request has an x-panic header. */
export function panicOnHeader(p: Project): void {
  const main = path.join(p.dir, "plugin/main.go");
  let code = readFileSync(main, "utf8");
  // add-header acts on the response only: give it a request callback to panic in.
  if (!code.includes("OnHttpRequestHeaders(")) {
    code += "\nfunc (h *httpContext) OnHttpRequestHeaders(numHeaders int, endOfStream bool) types.Action {\n\treturn types.ActionContinue\n}\n";
  }
  const at = code.indexOf("{", code.indexOf("OnHttpRequestHeaders(")) + 1;
  writeFileSync(
    main,
    `${code.slice(0, at)}\n\tif v, _ := proxywasm.GetHttpRequestHeader("x-panic"); v != "" {\n\t\tvar m map[string]int\n\t\tm[v] = 1\n\t}\n${code.slice(at)}`,
  );
}

/** Starts a foreground `up` and waits until it has told it is ready (its last ready line); returns it with its output so far. */
export async function foreground(p: Project, args: string[] = [], env: Record<string, string> = {}) {
  const up = spawnCli(["up", ...args], { cwd: p.dir, env });
  const out = { err: "", out: "" };
  up.stderr!.on("data", (c: Buffer) => (out.err += c.toString()));
  up.stdout!.on("data", (c: Buffer) => (out.out += c.toString()));
  await waitFor(() => out.err.includes("Ctrl-C stops everything") || up.exitCode !== null, 120_000, "up to be ready");
  expect(out.err, out.err).toContain("Ctrl-C stops everything");
  return { up, out };
}

/** A hash of the user's own files: everything but envoywasm's output (.envoywasm/, build/). */
export function userFiles(dir: string): string {
  const hash = createHash("sha256");
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const r = rel === "" ? name : `${rel}/${name}`;
      if (r === ".envoywasm" || r === "build") continue;
      const full = path.join(dir, r);
      if (existsSync(full) && readdirSync(path.dirname(full)).includes(name) && !isDir(full)) hash.update(r).update(readFileSync(full));
      else if (isDir(full)) walk(r);
    }
  };
  walk("");
  return hash.digest("hex");
}

function isDir(p: string): boolean {
  try {
    readdirSync(p);
    return true;
  } catch {
    return false;
  }
}
