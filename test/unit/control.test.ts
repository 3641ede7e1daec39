import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Reloader } from "../../src/run/reload/apply.js";
import type { PreparedReload } from "../../src/run/reload/prepared.js";
import { askSupervisor, serveControl, type ControlResponse } from "../../src/run/supervisor/control.js";
import type { SupervisorHandle } from "../../src/run/supervisor/handle.js";

let dir: string;
let socket: string;
const closers: (() => Promise<void>)[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "envoywasm-control-"));
  socket = path.join(dir, "control.sock");
});
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  await rm(dir, { recursive: true, force: true });
});

/** A supervisor that answers with what the client prepared. */
async function echoSupervisor(): Promise<void> {
  closers.push(
    await serveControl(socket, async (turn) => {
      turn.go();
      const prepared = await turn.prepared;
      return { type: "result", result: prepared.ok ? { ok: true, message: "applied" } : { ok: false, message: prepared.message } };
    }),
  );
}

/** Says `lines` on a raw connection, one after each line heard; resolves with all it heard once the other side ends. */
function converse(lines: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const client = net.connect(socket);
    let heard = "";
    client.setEncoding("utf8");
    client.on("connect", () => client.write(`${lines.shift()}\n`));
    client.on("data", (chunk: string) => {
      heard += chunk;
      if (lines.length > 0 && heard.endsWith("\n")) client.write(`${lines.shift()}\n`);
    });
    client.on("end", () => resolve(heard.trim().split("\n")));
    client.on("error", reject);
  });
}

describe("the control socket's conversation", () => {
  it("a client's well-formed reload is handed to the supervisor", async () => {
    await echoSupervisor();
    const answer = await askSupervisor(socket, async () => ({ ok: false, message: "built nothing" }));
    expect(answer).toEqual({ type: "result", result: { ok: false, message: "built nothing" } });
  });

  it("the supervisor refuses an apply with a field of the wrong type, saying which in one line", async () => {
    await echoSupervisor();
    const heard = await converse(['{"type":"begin"}', '{"type":"apply","prepared":{"ok":false,"message":7}}']);
    expect(heard[0]).toBe('{"type":"go"}');
    const answer = JSON.parse(heard[1]!) as ControlResponse;
    expect(answer.result).toEqual({
      ok: false,
      message: "envoywasm reload sent something this supervisor does not understand: prepared.message must be a string (got 7)",
    });
  });

  it("the supervisor refuses a conversation that does not begin with begin", async () => {
    await echoSupervisor();
    const heard = await converse(['{"type":"apply","prepared":{"ok":false,"message":"m"}}']);
    expect(JSON.parse(heard[0]!)).toEqual({ type: "result", result: { ok: false, message: "not a request this supervisor knows" } });
  });

  it("the client refuses an answer with a field of the wrong type, saying which in one line", async () => {
    const server = net.createServer((s) => s.resume().end('{"type":"result","result":{"ok":"yes","message":"m"}}\n'));
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    closers.push(() => new Promise((resolve) => server.close(() => resolve())));
    await expect(askSupervisor(socket, async () => ({}))).rejects.toThrow(
      'the running supervisor gave an answer this envoywasm does not understand: result.ok must be true or false (got "yes")',
    );
  });
});

describe("applying a prepared reload", () => {
  it("refuses one that names a path outside the project's .envoywasm folder, before anything is applied", async () => {
    const root = path.join(dir, "project");
    const sup = { plan: { root, ecds: [], modules: [], runtime: { kind: "native" } }, notice: () => {} } as unknown as SupervisorHandle;
    const own = path.join(root, ".envoywasm", "run");
    const prepared: PreparedReload = {
      ok: true,
      plugins: [],
      buildMs: 0,
      derived: { text: "", skeletonHash: "h", resources: [{ name: "f", file: path.join(dir, "elsewhere", "f.yaml"), dir: own, text: "", version: "1" }] },
      ecds: [],
      modules: [],
      envoy: { ports: [], listeners: [], display: "envoy.yaml" },
      paths: { run: own, modules: path.join(own, "modules") },
    };
    const result = await new Reloader(sup, { skeletonHash: "h" }).reload("test", async () => prepared);
    expect(result.ok).toBe(false);
    expect(result.message).toContain(`names ${path.join(dir, "elsewhere", "f.yaml")}, outside this project's .envoywasm folder; nothing was applied`);
    const climbing = { ...prepared, derived: { ...prepared.derived, resources: [] }, modules: [path.join(own, "..", "..", "..", "x.wasm")] };
    expect((await new Reloader(sup, { skeletonHash: "h" }).reload("test", async () => climbing)).message).toContain("outside this project's .envoywasm folder");
  });
});
