import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { describeTrap, TrapWatcher, type PluginTrap } from "../../src/run/plugin-watch.js";

// Real Envoy 1.40 output for a Go plugin that wrote to a nil map in
// OnHttpRequestHeaders (project root /tmp/pan/pn), as `envoywasm up` read it.
const PANIC = readFileSync(new URL("../fixtures/envoy-go-panic.log", import.meta.url), "utf8").trimEnd().split("\n");

describe("TrapWatcher", () => {
  it("turns Envoy's fragments and backtrace of a Go panic into one report", () => {
    const traps: PluginTrap[] = [];
    const watcher = new TrapWatcher("/tmp/pan/pn", (t) => traps.push(t));
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
    const watcher = new TrapWatcher("/p", (t) => traps.push(t));
    watcher.feed("backend", PANIC.find((l) => l.includes("Function: proxy_on_request_headers failed"))!);
    watcher.feed("envoy", "[2026-11-25 23:19:37.816][1406][error][wasm] [source/extensions/common/wasm/context.cc:1157] wasm log p p p: denied");
    watcher.feed("envoy", "[2026-11-25 23:19:37.816][1406][info][main] [source/server/server.cc:1] starting");
    watcher.flush();
    expect(traps).toEqual([]);
  });

  it("reports a trap without a Go panic message by its callback alone", () => {
    const traps: PluginTrap[] = [];
    const watcher = new TrapWatcher("/p", (t) => traps.push(t));
    watcher.feed("envoy", "[2026-11-25 23:19:37.818][1406][error][wasm] [source/extensions/common/wasm/wasm_vm.cc:38] Function: proxy_on_response_headers failed: Uncaught RuntimeError: unreachable");
    watcher.flush();
    expect(traps).toEqual([{ callback: "proxy_on_response_headers", failurePolicy: "FAIL_CLOSED" }]);
    expect(describeTrap(traps[0]!)[0]).toBe("the plugin trapped (in proxy_on_response_headers)");
  });

  it("says what follows per envoy.yaml's failure_policy", () => {
    const said = (failurePolicy: "FAIL_CLOSED" | "FAIL_OPEN" | "FAIL_RELOAD") =>
      describeTrap({ callback: "proxy_on_request_headers", failurePolicy }).join("\n");
    expect(said("FAIL_CLOSED")).toContain("Envoy answers 503 to every request until it restarts");
    expect(said("FAIL_OPEN")).toContain("requests now pass through without the plugin");
    expect(said("FAIL_RELOAD")).toContain("Envoy starts a new VM for the next ones");
  });
});
