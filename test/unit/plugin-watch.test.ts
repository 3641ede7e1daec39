import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { describeTrap, PanicWatch, type PluginTrap } from "../../src/run/logs/traps.js";
import { rustFrame } from "../../src/envoy/log-records.js";

// Real Envoy 1.40 output for a Go plugin that wrote to a nil map in
// OnHttpRequestHeaders (project root /tmp/pan/pn), as `envoywasm up` read it.
const PANIC = readFileSync(new URL("../fixtures/envoy-go-panic.log", import.meta.url), "utf8")
  .trimEnd()
  .split("\n");

describe("PanicWatch: what it tells", () => {
  it("turns Envoy's fragments and backtrace of a Go panic into one report", () => {
    const traps: PluginTrap[] = [];
    const watcher = new PanicWatch("/tmp/pan/pn", (t) => traps.push(t));
    for (const line of PANIC) watcher.feed("envoy", line);
    watcher.flush();
    expect(traps).toEqual([
      {
        callback: "proxy_on_request_headers",
        message: "assignment to entry in nil map",
        func: "main.(*httpContext).OnHttpRequestHeaders",
        location: "plugin/main.go:50",
        failurePolicy: "FAIL_CLOSED",
      },
    ]);
    const text = describeTrap(traps[0]!).join("\n");
    expect(text).toContain("the plugin panicked: assignment to entry in nil map (in proxy_on_request_headers)");
    expect(text).toContain("at main.(*httpContext).OnHttpRequestHeaders (plugin/main.go:50)");
    expect(text).toContain("503");
  });

  it("ignores other services, plain plugin errors and ordinary lines", () => {
    const traps: PluginTrap[] = [];
    const watcher = new PanicWatch("/p", (t) => traps.push(t));
    watcher.feed(
      "backend",
      PANIC.find((l) => l.includes("Function: proxy_on_request_headers failed"))!,
    );
    watcher.feed("envoy", "[2026-11-25 23:19:37.816][1406][error][wasm] [source/extensions/common/wasm/context.cc:1157] wasm log p p p: denied");
    watcher.feed("envoy", "[2026-11-25 23:19:37.816][1406][info][main] [source/server/server.cc:1] starting");
    watcher.flush();
    expect(traps).toEqual([]);
  });

  it("reports a trap without a Go panic message by its callback alone", () => {
    const traps: PluginTrap[] = [];
    const watcher = new PanicWatch("/p", (t) => traps.push(t));
    watcher.feed(
      "envoy",
      "[2026-11-25 23:19:37.818][1406][error][wasm] [source/extensions/common/wasm/wasm_vm.cc:38] Function: proxy_on_response_headers failed: Uncaught RuntimeError: unreachable",
    );
    watcher.flush();
    expect(traps).toEqual([{ callback: "proxy_on_response_headers", failurePolicy: "FAIL_CLOSED" }]);
    expect(describeTrap(traps[0]!)[0]).toBe("the plugin trapped (in proxy_on_response_headers)");
  });

  it("a plugin with no name, root_id or vm_id (`wasm log: …`, the Go SDK's vm_plugin_configuration example): its panic whole, with what the SDK's words mean", () => {
    const traps: PluginTrap[] = [];
    const watcher = new PanicWatch("/p", (t) => traps.push(t));
    for (const line of readFileSync(new URL("../fixtures/envoy-go-panic-unnamed.log", import.meta.url), "utf8").split("\n")) watcher.feed("envoy", line);
    watcher.flush();
    expect(traps).toMatchObject([{ callback: "proxy_on_context_create", message: "invalid context id on proxy_on_context_create" }]);
    expect(describeTrap(traps[0]!).join("\n")).toContain("NewHttpContext (or NewTcpContext) returned nil, as types.DefaultPluginContext's do");
  });

  it("a network (TCP) filter loaded as an HTTP filter: says where to load it, not that its code is broken", () => {
    // Real Envoy 1.40 output: a Go plugin (the maintained SDK) whose plugin context makes only TCP contexts, in http_filters, one curl.
    const traps: PluginTrap[] = [];
    const watcher = new PanicWatch("/p", (t) => traps.push(t));
    for (const line of readFileSync(new URL("../fixtures/envoy-go-tcp-only.log", import.meta.url), "utf8").split("\n")) watcher.feed("envoy", line);
    watcher.flush();
    expect(traps).toEqual([{ callback: "proxy_on_request_headers", message: "invalid context on proxy_on_request_headers", failurePolicy: "FAIL_CLOSED" }]);
    const lines = describeTrap(traps[0]!);
    expect(lines.slice(0, 2)).toEqual([
      "the plugin has no HTTP context for this request: it is a network (TCP) filter, and envoy.yaml loads it as an HTTP filter (in proxy_on_request_headers)",
      "  load it with envoy.filters.network.wasm in a listener's filter_chains, not in http_filters; or, if it is meant to be an HTTP filter, implement NewHttpContext in its plugin context.",
    ]);
    expect(lines.join("\n")).not.toMatch(/panicked|Fix it/);
    expect(lines.join("\n")).toContain("503");
  });

  it("says what follows per envoy.yaml's failure_policy", () => {
    const said = (failurePolicy: "FAIL_CLOSED" | "FAIL_OPEN" | "FAIL_RELOAD") =>
      describeTrap({ callback: "proxy_on_request_headers", failurePolicy }).join("\n");
    expect(said("FAIL_CLOSED")).toContain("Envoy answers 503 to every request until it restarts");
    expect(said("FAIL_OPEN")).toContain("requests now pass through without the plugin");
    expect(said("FAIL_RELOAD")).toContain("Envoy starts a new VM for the next ones");
  });
});

/** What the live stream shows of these lines: each is fed, then asked about, as the log writer does. */
const shownBy = (c: PanicWatch, service: string) => (l: string) => {
  c.feed(service, l);
  return !c.hides(service);
};

describe("PanicWatch: what the live stream hides", () => {
  it("hides a panic's fragments and V8 backtrace from the live stream, and shows what follows", () => {
    const c = new PanicWatch("/p", () => {});
    const before = "[2026-11-25 23:19:37.800][1406][info][wasm] [source/extensions/common/wasm/context.cc:1151] wasm log pn pn pn: request headers: []";
    const after = "[2026-11-25 23:19:38.000][1406][info][main] [source/server/server.cc:1] something else";
    const shown = [before, ...PANIC, after].filter(shownBy(c, "envoy"));
    expect(shown).toEqual([before, after]);
  });

  it("shows a plugin's own error lines that are not a panic, and every backend line", () => {
    const c = new PanicWatch("/p", () => {});
    const error = "[2026-11-25 23:19:37.816][1406][error][wasm] [source/extensions/common/wasm/context.cc:1157] wasm log pn pn pn: failed to read the body";
    expect(shownBy(c, "envoy")(error)).toBe(true);
    expect(shownBy(c, "backend")(PANIC[0]!)).toBe(true);
  });
});

describe("PanicWatch across Envoy's two pipes", () => {
  it("keeps hiding when an access-log line (Envoy's stdout) arrives in the middle of the panic", () => {
    const c = new PanicWatch("/p", () => {});
    const accessLog = '[2026-11-25T23:19:37.800Z] "GET /hello HTTP/1.1" 200 - 0 13 3 0 "-" "-" "id" "127.0.0.1:8085" "127.0.0.1:8080"';
    const after = "[2026-11-25 23:19:38.000][1406][info][main] [source/server/server.cc:1] something else";
    const lines = [PANIC[0]!, PANIC[1]!, accessLog, ...PANIC.slice(2), after];
    expect(lines.filter(shownBy(c, "envoy"))).toEqual([accessLog, after]);
  });
});

// Real Envoy 1.40 output for a Rust plugin (the add-header template) that panicked in on_http_request_headers at
// src/lib.rs:167, through the templates' hook (one line), the proxy-wasm crate's own hook (the message
// on a line of its own, without a prefix) and std's default hook (written to stderr).
const rustPanic = (hook: string) =>
  readFileSync(new URL(`../fixtures/envoy-rust-panic-${hook}.log`, import.meta.url), "utf8")
    .trimEnd()
    .split("\n");

describe("PanicWatch on a Rust panic", () => {
  for (const [hook, message] of [
    ["hook", "asked to panic: yes"],
    ["sdk-hook", "asked to panic: sdk"],
    ["std-hook", "asked to panic: std"],
  ] as const) {
    it(`reports the message, src/lib.rs:LINE and the plugin's frame (${hook})`, () => {
      const traps: PluginTrap[] = [];
      const watcher = new PanicWatch("/tmp/rx/p/ah", (t) => traps.push(t));
      for (const line of rustPanic(hook)) watcher.feed("envoy", line);
      watcher.flush();
      expect(traps).toEqual([
        {
          callback: "proxy_on_request_headers",
          message,
          func: "<ah::AddHeader as proxy_wasm::traits::HttpContext>::on_http_request_headers",
          location: "src/lib.rs:167",
          failurePolicy: "FAIL_CLOSED",
        },
      ]);
      expect(describeTrap(traps[0]!).slice(0, 2)).toEqual([
        `the plugin panicked: ${message} (in proxy_on_request_headers)`,
        "  at <ah::AddHeader as proxy_wasm::traits::HttpContext>::on_http_request_headers (src/lib.rs:167)",
      ]);
    });

    it(`hides the panic's text and backtrace from the live stream, and shows the access log and what follows (${hook})`, () => {
      const c = new PanicWatch("/p", () => {});
      const lines = rustPanic(hook);
      const after = "[2026-12-06 04:26:50.000][1406][info][main] [source/server/server.cc:1] something else";
      const shown = [...lines, after].filter(shownBy(c, "envoy"));
      // What is not the panic: the access log line, Envoy's own lines after it. std's hook starts with an
      // empty plugin line, before anything says it is a panic.
      const others = lines.filter((l) => l.startsWith("[2026-12-06T") || l.includes("][main]"));
      expect(others.length).toBeGreaterThan(0);
      expect(shown.filter((l) => !/wasm log ah ah ah: $/.test(l))).toEqual([...others, after]);
    });
  }

  it("reads the plugin's frames, not the runtime's or the SDK's", () => {
    expect(rustFrame("_$LT$ah..AddHeader$u20$as$u20$proxy_wasm..traits..HttpContext$GT$::on_http_request_headers::h535f87ff131893dc")).toBe(
      "<ah::AddHeader as proxy_wasm::traits::HttpContext>::on_http_request_headers",
    );
    expect(rustFrame("my_plugin::parse_config::h0123456789abcdef")).toBe("my_plugin::parse_config");
    for (const runtime of [
      "abort",
      "proxy_on_request_headers",
      "_RNvNtCsdHhIpgkcIfN_4core9panicking9panic_fmt",
      "core::option::unwrap_failed::h0123456789abcdef",
      "proxy_wasm::dispatcher::Dispatcher::on_http_request_headers::h0123456789abcdef",
      "runtime.gopanic",
      "sort.Sort[...]",
    ]) {
      expect(rustFrame(runtime), runtime).toBeUndefined();
    }
  });
});
