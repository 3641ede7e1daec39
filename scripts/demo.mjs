#!/usr/bin/env node
// The blog post, end to end, in one command (`npm run demo`): install what is
// missing, create a plugin project in a temp folder, build it, start Envoy and
// the backend, send a request through the plugin, show the response and the
// plugin's log line for that request, change the plugin and reload it into
// the running Envoy in place, and stop everything again.
// Only Node's standard library here: this runs before `npm ci` has.
import { execFileSync, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("..", import.meta.url));
const cli = path.join(repo, "bin", "envoywasm.js");
const keep = process.argv.includes("--keep");

const colour = process.stderr.isTTY === true && !process.env.NO_COLOR;
const bold = (t) => (colour ? `\x1b[1m${t}\x1b[0m` : t);
const green = (t) => (colour ? `\x1b[32m${t}\x1b[0m` : t);

function step(text) {
  process.stderr.write(`\n${bold(`==> ${text}`)}\n`);
}

function envoywasm(args, cwd, { capture = false } = {}) {
  process.stderr.write(`$ envoywasm ${args.join(" ")}\n`);
  const r = spawnSync(process.execPath, [cli, ...args], { cwd, stdio: capture ? ["ignore", "pipe", "inherit"] : "inherit", encoding: "utf8" });
  if (r.status !== 0) throw new Error(`envoywasm ${args.join(" ")} failed (exit ${r.status})`);
  return r.stdout ?? "";
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function get(port, headers) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: "/hello", headers }, (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body }));
      })
      .on("error", reject);
  });
}

let project;
let started = false;
try {
  step("npm packages and the CLI");
  if (!existsSync(path.join(repo, "node_modules", "commander")) || !existsSync(path.join(repo, "dist", "cli.js"))) {
    execFileSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: repo, stdio: "inherit" });
  } else {
    process.stderr.write("already installed\n");
  }

  step("Go and Envoy");
  process.stderr.write(execFileSync("go", ["version"], { encoding: "utf8" }));
  const which = spawnSync(process.execPath, [cli, "envoy", "which"], { cwd: os.tmpdir(), encoding: "utf8" });
  if (which.status === 0) process.stderr.write(which.stdout);
  else {
    process.stderr.write("no Envoy found: installing one into envoywasm's cache\n");
    envoywasm(["envoy", "install"], os.tmpdir());
  }

  step("a new plugin project (the blog's headers plugin)");
  const root = mkdtempSync(path.join(os.tmpdir(), "envoywasm-demo-"));
  project = path.join(root, "hello");
  const [listener, admin, backend] = [await freePort(), await freePort(), await freePort()];
  envoywasm(["init", "hello", "--yes", "--listener-port", String(listener), "--admin-port", String(admin), "--backend-port", String(backend)], root);

  step("build the plugin");
  envoywasm(["build"], project);

  step("start the backend and Envoy with the plugin");
  started = true;
  envoywasm(["up", "-d"], project);

  step(`curl http://127.0.0.1:${listener}/hello`);
  const probe = `demo-${randomUUID().slice(0, 8)}`;
  const res = await get(listener, { "x-demo-probe": probe });
  process.stdout.write(`HTTP ${res.status}\n${res.body}\n`);
  if (res.status !== 200 || res.body !== "hola mundo :)") throw new Error("unexpected response");

  step("what the plugin logged for that request");
  let line = "";
  for (let i = 0; i < 50 && line === ""; i++) {
    const logs = envoywasm(["logs", "--wasm", "--no-prefix"], project, { capture: true });
    line = logs.split("\n").find((l) => l.includes(probe)) ?? "";
    if (line === "") await new Promise((r) => setTimeout(r, 100));
  }
  if (line === "") throw new Error("the plugin's log line for the request was not found");
  process.stdout.write(`${line}\n`);

  step("change the plugin and load it into the running Envoy, in place (no restart)");
  const main = path.join(project, "plugin", "main.go");
  const source = readFileSync(main, "utf8");
  const said = 'kind + " headers: "';
  if (!source.includes(said)) throw new Error(`the template's plugin no longer says ${said}: update this demo's edit`);
  writeFileSync(main, source.replace(said, 'kind + " headers (changed while running): "'));
  envoywasm(["reload"], project);
  const probe2 = `demo-${randomUUID().slice(0, 8)}`;
  const again = await get(listener, { "x-demo-probe": probe2 });
  if (again.status !== 200) throw new Error(`unexpected response after the reload: ${again.status}`);
  let changed = "";
  for (let i = 0; i < 50 && changed === ""; i++) {
    const logs = envoywasm(["logs", "--wasm", "--no-prefix"], project, { capture: true });
    changed = logs.split("\n").find((l) => l.includes(probe2)) ?? "";
    if (changed === "") await new Promise((r) => setTimeout(r, 100));
  }
  if (!changed.includes("changed while running")) throw new Error("the reloaded plugin's line was not found");
  process.stdout.write(`${changed}\n`);
} catch (error) {
  process.stderr.write(`\ndemo failed: ${error.message}\n`);
  process.exitCode = 1;
} finally {
  if (started) {
    step("stop everything");
    try {
      envoywasm(["down"], project);
    } catch {
      process.exitCode = 1;
    }
  }
  if (project !== undefined && !keep) rmSync(path.dirname(project), { recursive: true, force: true });
  else if (project !== undefined) process.stderr.write(`project kept in ${project}\n`);
}
if (process.exitCode !== 1) process.stderr.write(`\n${green("done: a request through a Go Wasm plugin in Envoy, and the plugin changed while it ran")}\n`);
