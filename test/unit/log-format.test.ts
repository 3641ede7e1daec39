import { stripVTControlCharacters } from "node:util";
import { describe, expect, it } from "vitest";
import { colourFor, formatLine, isWasmLine, parseStampedLine, pluginLineParts, readablePluginLine, stampLine } from "../../src/run/logs/format.js";

const WASM_LINE =
  "[2026-11-25 22:49:54.943][4611][info][wasm] [source/extensions/common/wasm/context.cc:1151] wasm log my_plugin my_root_id my_vm_id: request headers: [[:authority 127.0.0.1:8085] [:path /hello] [:method GET]]";
const ENVOY_LINE = "[2026-11-25 22:49:54.101][4600][info][main] [source/server/server.cc:978] starting main dispatch loop";
const SERVICES = ["envoy", "backend"];

describe("isWasmLine", () => {
  it("recognises a line a plugin logged through Envoy", () => {
    expect(isWasmLine(WASM_LINE)).toBe(true);
  });
  it("rejects Envoy's own lines, including its wasm-category ones", () => {
    expect(isWasmLine(ENVOY_LINE)).toBe(false);
    expect(isWasmLine("[2026-11-25 22:49:54.001][4600][info][wasm] [source/extensions/common/wasm/wasm.cc:109] Wasm VM started")).toBe(false);
    expect(isWasmLine("2026/11/25 22:49:55 GET /hello status=200")).toBe(false);
    expect(isWasmLine("swasm logger")).toBe(false);
  });
});

describe("formatLine", () => {
  it("prefixes the service name, padded to the width, then a bar", () => {
    const o = { colour: false, prefix: true, width: 7, services: SERVICES };
    expect(formatLine("envoy", ENVOY_LINE, o)).toBe(`envoy   | ${ENVOY_LINE}`);
    expect(formatLine("backend", "listening on 127.0.0.1:8080", o)).toBe("backend | listening on 127.0.0.1:8080");
    // a name longer than the width is not cut
    expect(formatLine("supervisor", "x", o)).toBe("supervisor | x");
  });

  it("prints the line alone without a prefix", () => {
    expect(formatLine("envoy", WASM_LINE, { colour: false, prefix: false, width: 7, services: SERVICES })).toBe(WASM_LINE);
    expect(formatLine("envoy", "", { colour: false, prefix: false, width: 7, services: SERVICES })).toBe("");
  });

  it("adds nothing but colour codes when colour is on", () => {
    for (const line of [WASM_LINE, ENVOY_LINE]) {
      for (const prefix of [true, false]) {
        const plain = formatLine("envoy", line, { colour: false, prefix, width: 7, services: SERVICES });
        const coloured = formatLine("envoy", line, { colour: true, prefix, width: 7, services: SERVICES });
        expect(stripVTControlCharacters(coloured)).toBe(plain);
      }
    }
  });
});

describe("colourFor", () => {
  it("gives known services distinct colours by position", () => {
    expect(colourFor("envoy", SERVICES)).toBe("magenta");
    expect(colourFor("backend", SERVICES)).toBe("cyan");
  });
  it("gives an unknown service a stable colour", () => {
    const c = colourFor("worker", SERVICES);
    expect(["magenta", "cyan", "blue", "green"]).toContain(c);
    expect(colourFor("worker", [])).toBe(c);
  });
});

describe("stampLine and parseStampedLine", () => {
  it("stamps a line with its ISO time and a newline", () => {
    expect(stampLine("hello world", new Date(Date.UTC(2026, 10, 25, 22, 49, 54, 943)))).toBe("2026-11-25T22:49:54.943Z hello world\n");
  });

  it("reads back what it stamped", () => {
    const at = new Date(Date.UTC(2026, 10, 25, 22, 49, 54, 943));
    for (const line of [WASM_LINE, "", "  indented  ", "2026-11-25T00:00:00.000Z looks stamped"]) {
      const stamped = stampLine(line, at);
      expect(stamped.endsWith("\n")).toBe(true);
      expect(parseStampedLine(stamped.slice(0, -1))).toEqual({ at: at.getTime(), line });
    }
  });

  it("stamps with the current time by default", () => {
    const before = Date.now();
    const parsed = parseStampedLine(stampLine("now").trimEnd());
    expect(parsed?.line).toBe("now");
    expect(parsed!.at).toBeGreaterThanOrEqual(before);
    expect(parsed!.at).toBeLessThanOrEqual(Date.now());
  });

  it("rejects lines that are not stamped", () => {
    expect(parseStampedLine(ENVOY_LINE)).toBeUndefined();
    expect(parseStampedLine("")).toBeUndefined();
    expect(parseStampedLine("no-space-at-all")).toBeUndefined();
    expect(parseStampedLine("xxxx-xx-xxTxx:xx:xx.xxxZ line")).toBeUndefined();
    expect(parseStampedLine("2026-11-25 22:49:54 line")).toBeUndefined();
  });
});

describe("readable plugin lines", () => {
  it("shows time, plugin and message without Envoy's source prefix; the level only when it is not info", () => {
    const o = { colour: false, prefix: true, width: 7, services: SERVICES, readable: true };
    expect(formatLine("envoy", WASM_LINE, o)).toBe(
      "envoy   | 22:49:54.943 [my_plugin] request headers: [[:authority 127.0.0.1:8085] [:path /hello] [:method GET]]",
    );
    const error = WASM_LINE.replace("[info]", "[error]");
    expect(formatLine("envoy", error, o)).toBe(
      "envoy   | 22:49:54.943 [my_plugin error] request headers: [[:authority 127.0.0.1:8085] [:path /hello] [:method GET]]",
    );
    // Envoy's own lines stay as they are.
    expect(formatLine("envoy", ENVOY_LINE, o)).toBe(`envoy   | ${ENVOY_LINE}`);
  });

  it("names a plugin without a name by its root_id, and one without any id 'plugin'", () => {
    const noName = "[2026-11-25 22:49:54.943][46][info][wasm] [source/extensions/common/wasm/context.cc:1151] wasm log  root vm: hi";
    expect(pluginLineParts(noName)).toMatchObject({ plugin: "root", message: "hi" });
    const none = "[2026-11-25 22:49:54.943][46][info][wasm] [source/extensions/common/wasm/context.cc:1151] wasm log   : OnPluginStart from Go!";
    expect(pluginLineParts(none)).toEqual({ time: "22:49:54.943", level: "info", plugin: "", message: "OnPluginStart from Go!" });
    expect(readablePluginLine(pluginLineParts(none)!)).toBe("22:49:54.943 [plugin] OnPluginStart from Go!");
    expect(pluginLineParts(ENVOY_LINE)).toBeUndefined();
  });
});
