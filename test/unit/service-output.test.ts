import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { ServiceOutput } from "../../src/run/runtime/output.js";

function output(): { seen: string[]; out: ServiceOutput; stdout: PassThrough; stderr: PassThrough } {
  const seen: string[] = [];
  const out = new ServiceOutput("svc", (service, line) => seen.push(`${service}: ${line}`));
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  out.follow(stdout);
  out.follow(stderr);
  return { seen, out, stdout, stderr };
}

describe("ServiceOutput", () => {
  it("tells the exit only after both streams ended, the last partial line first", async () => {
    const { seen, out, stdout, stderr } = output();
    stdout.write("one\ntw");
    out.programEnded({ code: 3, signal: null });
    await new Promise((r) => setImmediate(r));
    expect(out.done).toBe(false);
    stdout.end("o");
    stderr.end("err\n");
    expect(await out.exited).toEqual({ code: 3, signal: null });
    expect(out.done).toBe(true);
    expect(seen).toEqual(["svc: one", "svc: err", "svc: two"]);
    expect(out.recentLines()).toEqual(["one", "err", "two"]);
  });

  it("tells the exit 500 ms after the program ended when a stream stays open", async () => {
    const { out, stdout } = output();
    stdout.end();
    const started = Date.now();
    out.programEnded({ code: null, signal: "SIGTERM" });
    expect(await out.exited).toEqual({ code: null, signal: "SIGTERM" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
  });

  it("tells an exit at once when the program never ran, and only the first", async () => {
    const { out } = output();
    out.endNow({ code: 127, signal: null });
    out.programEnded({ code: 0, signal: null });
    expect(await out.exited).toEqual({ code: 127, signal: null });
  });

  it("keeps the first 300 lines and the last 300 (a panic at start is told early, and may be followed by thousands)", () => {
    const { out, stdout } = output();
    stdout.write(Array.from({ length: 200 }, (_, i) => `line ${i}\n`).join(""));
    expect(out.recentLines()).toHaveLength(200);
    stdout.write(Array.from({ length: 2000 }, (_, i) => `line ${200 + i}\n`).join(""));
    const kept = out.recentLines();
    expect(kept).toHaveLength(600);
    expect(kept[0]).toBe("line 0");
    expect(kept[299]).toBe("line 299");
    expect(kept[300]).toBe("line 1900");
    expect(kept.at(-1)).toBe("line 2199");
  });
});
