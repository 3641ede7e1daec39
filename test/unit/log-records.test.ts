import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { describePanic, recordsOf } from "../../src/envoy/log-records.js";

const fixture = (name: string) =>
  readFileSync(path.join(import.meta.dirname, "..", "fixtures", name), "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((line) => ({ line }));
const T = "[2026-12-06 04:10:34.443][18598]";

describe("log records", () => {
  it("a plugin message with newlines is one record, its continuation lines in its text", () => {
    const records = recordsOf(
      "envoy",
      [
        `${T}[info][wasm] [source/extensions/common/wasm/context.cc:1151] wasm log p p p: vm config: {`,
        '  "header": "x-hello",',
        '  "value": "world"',
        "}",
        `${T}[info][wasm] [source/extensions/common/wasm/context.cc:1151] wasm log p p p: next message`,
        '[2026-12-06T04:10:34.500Z] "GET /hello HTTP/1.1" 200 - 0 5 1 0 "-" "curl/8" "id" "127.0.0.1:8085" "127.0.0.1:8080"',
      ].map((line) => ({ line })),
      "/p",
    );
    expect(records.map((r) => r.lines.length)).toEqual([4, 1, 1]);
    expect(records[0]!.plugin?.message).toBe('vm config: {\n  "header": "x-hello",\n  "value": "world"\n}');
    expect(records[1]!.plugin?.message).toBe("next message");
    // The access log line (Envoy's stdout) is its own record, never a continuation.
    expect(records[2]!.plugin).toBeUndefined();
  });

  it('a message that ends with a newline (the Go SDK\'s http_routing logs "value: %d\\n") has no empty line after it; one inside is kept', () => {
    const wasm = `${T}[info][wasm] [source/extensions/common/wasm/context.cc:1151] wasm log: `;
    const records = recordsOf(
      "envoy",
      [`${wasm}value: 2908252685`, "", `${wasm}data: GET / HTTP/1.1`, "Host: x", "", "body", "", "", `${wasm}next`].map((line) => ({ line })),
      "/p",
    );
    expect(records.map((r) => r.plugin?.message)).toEqual(["value: 2908252685", "data: GET / HTTP/1.1\nHost: x\n\nbody", "next"]);
    expect(records.map((r) => r.lines.length)).toEqual([1, 4, 1]);
  });

  it("an access log line of a format of its own that starts with [%START_TIME%] (the Rust SDK's envoy_tcp_routing) is not the plugin's", () => {
    const records = recordsOf(
      "envoy",
      [
        `${T}[info][wasm] [source/extensions/common/wasm/context.cc:1151] wasm log tcp_routing: Routed source 127.0.0.10:51982 to egress-router1`,
        "[2026-12-06T14:07:03.068Z] src=127.0.0.10:51982 via=127.0.0.1:20370 dst=127.0.0.1:20372 (egress-router1)",
      ].map((line) => ({ line })),
      "/p",
    );
    expect(records.map((r) => r.lines.length)).toEqual([1, 1]);
    expect(records[0]!.plugin?.message).toBe("Routed source 127.0.0.10:51982 to egress-router1");
    expect(records[1]!.plugin).toBeUndefined();
  });

  it("a Go panic during a request (Envoy 1.40's ~40 fragments, the trap and V8's backtrace) is one record with its explanation", () => {
    const lines = fixture("envoy-go-panic.log");
    const records = recordsOf("envoy", lines, "/tmp/pan/pn");
    const panics = records.filter((r) => r.panic !== undefined);
    expect(panics).toHaveLength(1);
    const p = panics[0]!;
    expect(p.panic).toMatchObject({
      kind: "panic",
      message: "assignment to entry in nil map",
      func: "main.(*httpContext).OnHttpRequestHeaders",
      location: "plugin/main.go:50",
      callback: "proxy_on_request_headers",
    });
    // Every fragment, the trap line and the backtrace belong to it.
    expect(p.lines.filter((l) => / wasm log /.test(l))).toHaveLength(lines.filter((l) => / wasm log /.test(l.line)).length);
    expect(p.lines.some((l) => /Function: proxy_on_request_headers failed/.test(l))).toBe(true);
    expect(p.lines.some((l) => /main\.__httpContext_\.OnHttpRequestHeaders/.test(l))).toBe(true);
    expect(describePanic(p.panic!)).toBe(
      "panic: assignment to entry in nil map at main.(*httpContext).OnHttpRequestHeaders (plugin/main.go:50) in proxy_on_request_headers",
    );
  });

  it("the Go SDK's panic for a network filter run as an HTTP one (Envoy 1.40's output) is one record that says so", () => {
    const [p] = recordsOf("envoy", fixture("envoy-go-tcp-only.log"), "/p").filter((r) => r.panic !== undefined);
    expect(describePanic(p!.panic!)).toBe(
      "panic: invalid context on proxy_on_request_headers in proxy_on_request_headers: the plugin has no HTTP context for this request: it is a network (TCP) filter, and envoy.yaml loads it as an HTTP filter",
    );
  });

  it("a panic in a module built with -trimpath (Envoy 1.40's output): the module-relative file is the project's, by the go.mod that declares it", () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "envoywasm-trimmed-"));
    try {
      // The project's own go.mod files, the longest module path winning (a root module holds the plugin's folder too).
      mkdirSync(path.join(root, "plugin"));
      writeFileSync(path.join(root, "go.mod"), "module example.com/pn\n");
      writeFileSync(path.join(root, "plugin", "go.mod"), "// the plugin\nmodule example.com/pn/plugin\n\ngo 1.24\n");
      const [p] = recordsOf("envoy", fixture("envoy-go-panic-trimmed.log"), root).filter((r) => r.panic !== undefined);
      expect(describePanic(p!.panic!)).toBe(
        "panic: assignment to entry in nil map at main.(*httpContext).OnHttpRequestHeaders (plugin/main.go:111) in proxy_on_request_headers",
      );
      // Without the project's go.mod, no file is claimed: not the SDK's (module@version/…), which comes next.
      const [elsewhere] = recordsOf("envoy", fixture("envoy-go-panic-trimmed.log"), path.join(root, "none")).filter((r) => r.panic !== undefined);
      expect(elsewhere!.panic).toMatchObject({ func: "main.(*httpContext).OnHttpRequestHeaders", callback: "proxy_on_request_headers" });
      expect(elsewhere!.panic!.location).toBeUndefined();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("a panic while the plugin starts is one record too, and the cascade after it is Envoy's own records", () => {
    const records = recordsOf("envoy", fixture("envoy-go-panic-at-start.log"), "/tmp/pan/pn");
    const panics = records.filter((r) => r.panic !== undefined);
    expect(panics).toHaveLength(1);
    expect(panics[0]!.panic).toMatchObject({ message: "assignment to entry in nil map", location: "plugin/main.go:83", callback: "proxy_on_configure" });
    expect(records.some((r) => r.panic === undefined && r.lines.some((l) => /Failed to configure base Wasm plugin/.test(l)))).toBe(true);
  });

  it("other services: a record per line", () => {
    expect(recordsOf("backend", [{ line: "a" }, { line: "  b" }], "/p").map((r) => r.lines)).toEqual([["a"], ["  b"]]);
  });
});
