import { readFileSync } from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { LogMux } from "../../src/run/logs/mux.js";
import { removeTempDirs, tempDir } from "../helpers/cli.js";

afterAll(removeTempDirs);

/** A terminal that keeps each write it is given. */
function terminal(): { stream: Writable; writes: string[] } {
  const writes: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      writes.push(chunk.toString());
      done();
    },
  });
  return { stream, writes };
}

describe("LogMux", () => {
  it("writes a burst of lines to the terminal in one write, whole and in order, and to each service's file", async () => {
    const dir = await tempDir();
    const t = terminal();
    const mux = new LogMux({ services: ["backend", "envoy"], logsDir: dir, terminal: t.stream, colour: false });
    for (let i = 0; i < 1000; i++) mux.line(i % 2 === 0 ? "backend" : "envoy", `line ${i}`);
    expect(t.writes).toEqual([]); // nothing written line by line
    await new Promise((r) => setImmediate(r));
    expect(t.writes).toHaveLength(1);
    const shown = t.writes[0]!.trimEnd().split("\n");
    expect(shown).toHaveLength(1000);
    shown.forEach((l, i) => expect(l).toMatch(new RegExp(`^${i % 2 === 0 ? "backend" : "envoy  "} \\| line ${i}$`)));
    await mux.close();
    const backend = readFileSync(path.join(dir, "backend.log"), "utf8").trimEnd().split("\n");
    expect(backend).toHaveLength(500);
    expect(backend[1]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z line 2$/);
  });

  it("drops the empty line a plugin message ending in a newline leaves on the terminal, keeps one inside a message, and keeps both in the file", async () => {
    const dir = await tempDir();
    const t = terminal();
    const mux = new LogMux({ services: ["envoy"], logsDir: dir, terminal: t.stream, colour: false, readable: true });
    const wasm = (text: string) => `[2026-12-06 10:00:00.000][7][info][wasm] [source/extensions/common/wasm/context.cc:1195] wasm log p p p: ${text}`;
    // LogInfof("value: %d\n", 5), then a dump of a request (headers, an empty line, a body) that ends in one too.
    for (const line of [wasm("value: 5"), "", wasm("dump: GET / HTTP/1.1"), "host: x", "", "body", ""]) mux.line("envoy", line);
    await new Promise((r) => setImmediate(r));
    const shown = t.writes.join("").split("\n").slice(0, -1);
    expect(shown.map((l) => l.replace(/^envoy \| /, ""))).toEqual([
      expect.stringMatching(/\[p\] value: 5$/),
      expect.stringMatching(/\[p\] dump: GET \/ HTTP\/1\.1$/),
      expect.stringMatching(/host: x$/),
      "",
      expect.stringMatching(/body$/),
    ]);
    await mux.close();
    expect(readFileSync(path.join(dir, "envoy.log"), "utf8").split("\n").slice(0, -1)).toHaveLength(7);
  });

  it("flushTerminal() writes the pending lines at once (what envoywasm says next follows them)", async () => {
    const t = terminal();
    const mux = new LogMux({ services: ["backend"], logsDir: await tempDir(), terminal: t.stream, colour: false });
    mux.line("backend", "first");
    mux.line("backend", "second");
    mux.flushTerminal();
    expect(t.writes).toEqual(["backend | first\nbackend | second\n"]);
    await new Promise((r) => setImmediate(r));
    expect(t.writes).toHaveLength(1); // nothing twice
    await mux.close();
  });

  it("under a steady stream writes at most every 10 ms, every line in order, and the file is whole at close", async () => {
    const dir = await tempDir();
    const t = terminal();
    const mux = new LogMux({ services: ["envoy"], logsDir: dir, terminal: t.stream, colour: false });
    const started = performance.now();
    for (let i = 0; i < 200; i++) {
      mux.line("envoy", `line ${i}`);
      await new Promise((r) => setTimeout(r, 1)); // a line every millisecond or so, as a plugin under load logs
    }
    const elapsed = performance.now() - started;
    await new Promise((r) => setTimeout(r, 30));
    // A write per line before (200); now one per 10 ms at most (Node's timers keep whole milliseconds of
    // the loop's time, so allow 8), the first at once and one after the last line.
    expect(t.writes.length).toBeLessThanOrEqual(Math.ceil(elapsed / 8) + 2);
    expect(t.writes.join("").trimEnd().split("\n")).toEqual(Array.from({ length: 200 }, (_, i) => `envoy | line ${i}`));
    mux.line("envoy", "the last one");
    await mux.close();
    const file = readFileSync(path.join(dir, "envoy.log"), "utf8").trimEnd().split("\n");
    expect(file).toHaveLength(201);
    expect(file[200]).toMatch(/ the last one$/);
  });
});
