import { describe, expect, it } from "vitest";
import { LineSplitter, RingBuffer } from "../../src/run/logs/lines.js";

function splitter(): { lines: string[]; s: LineSplitter } {
  const lines: string[] = [];
  return { lines, s: new LineSplitter((line) => lines.push(line)) };
}

describe("LineSplitter", () => {
  it("holds a line split across chunks until its newline comes", () => {
    const { lines, s } = splitter();
    s.push("[info] star");
    expect(lines).toEqual([]);
    s.push("ting envoy");
    expect(lines).toEqual([]);
    s.push(" 1.40.0\n[info] next");
    expect(lines).toEqual(["[info] starting envoy 1.40.0"]);
    s.push(" line\n");
    expect(lines).toEqual(["[info] starting envoy 1.40.0", "[info] next line"]);
  });

  it("hands over many lines from one chunk, in order, empty ones included", () => {
    const { lines, s } = splitter();
    s.push("one\ntwo\n\nfour\nfive\n");
    expect(lines).toEqual(["one", "two", "", "four", "five"]);
  });

  it("drops the \\r of CRLF line ends, even when \\r and \\n arrive in different chunks", () => {
    const { lines, s } = splitter();
    s.push("a\r\nb\r");
    expect(lines).toEqual(["a"]);
    s.push("\nc\r\n");
    expect(lines).toEqual(["a", "b", "c"]);
  });

  it("keeps a \\r that is not at the end of a line", () => {
    const { lines, s } = splitter();
    s.push("progress 10%\rprogress 100%\n");
    expect(lines).toEqual(["progress 10%\rprogress 100%"]);
  });

  it("flushes a last line that has no newline, once", () => {
    const { lines, s } = splitter();
    s.push("first\nlast without newline");
    expect(lines).toEqual(["first"]);
    s.flush();
    expect(lines).toEqual(["first", "last without newline"]);
    s.flush();
    expect(lines).toEqual(["first", "last without newline"]);
    // it starts afresh after a flush
    s.push("again\n");
    expect(lines).toEqual(["first", "last without newline", "again"]);
  });

  it("flushes nothing when the output ended with a newline", () => {
    const { lines, s } = splitter();
    s.push("done\n");
    s.flush();
    expect(lines).toEqual(["done"]);
  });

  it("keeps multi-byte characters whole (chunks are already decoded strings)", () => {
    const { lines, s } = splitter();
    s.push("héllo 😀");
    s.push(" wörld\n");
    expect(lines).toEqual(["héllo 😀 wörld"]);
  });
});

describe("RingBuffer", () => {
  it("keeps the last N lines, oldest first", () => {
    const ring = new RingBuffer(3);
    expect(ring.all()).toEqual([]);
    ring.push("1");
    ring.push("2");
    expect(ring.all()).toEqual(["1", "2"]);
    for (const l of ["3", "4", "5"]) ring.push(l);
    expect(ring.all()).toEqual(["3", "4", "5"]);
    for (let i = 6; i <= 100; i++) ring.push(String(i));
    expect(ring.all()).toEqual(["98", "99", "100"]);
  });

  it("hands out a copy", () => {
    const ring = new RingBuffer(2);
    ring.push("a");
    const copy = ring.all();
    copy.push("mutated");
    expect(ring.all()).toEqual(["a"]);
  });
});
