import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { dispatchClusterWarnings, goroutineWarnings, registrationWarnings } from "../../src/build/source-checks.js";

let dir: string | undefined;
afterEach(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("dispatchClusterWarnings", () => {
  it("names a DispatchHttpCall to a cluster envoy.yaml does not define, with its file and line", async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "envoywasm-lint-"));
    await writeFile(
      path.join(dir, "main.go"),
      'package main\n\nfunc f() {\n\tproxywasm.DispatchHttpCall("httpbin", hs, nil, nil, 5000, cb)\n\t// proxywasm.DispatchHttpCall("commented", hs, nil, nil, 5000, cb)\n\tproxywasm.DispatchHttpCall("backend", hs, nil, nil, 5000, cb)\n\tproxywasm.DispatchHttpCall(name, hs, nil, nil, 5000, cb)\n}\n',
    );
    const warnings = await dispatchClusterWarnings(dir, "plugin", ["backend"], "envoy.yaml");
    expect(warnings).toEqual([
      'plugin/main.go:4: DispatchHttpCall to cluster "httpbin", which envoy.yaml does not define (it has: backend); the call will fail with BadArgument',
    ]);
  });
});

describe("dispatchClusterWarnings in Rust", () => {
  it("names a dispatch_http_call to a cluster envoy.yaml does not define, with its file and the line it starts on", async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "envoywasm-lint-"));
    await mkdir(path.join(dir, "src"));
    await writeFile(
      path.join(dir, "src", "lib.rs"),
      'fn f(&self) {\n    self.dispatch_http_call("httpbin", headers, None, vec![], timeout);\n    // self.dispatch_http_call("commented", h, None, vec![], t);\n    self.dispatch_http_call(\n        "backend", h, None, vec![], t);\n    self.dispatch_http_call(&self.cluster, h, None, vec![], t);\n    self.dispatch_http_call(\n        "auth",\n        vec![(":path", "/check")],\n    );\n}\n',
    );
    expect(await dispatchClusterWarnings(dir, "plugin", ["backend"], "envoy.yaml")).toEqual([
      'plugin/src/lib.rs:2: dispatch_http_call to cluster "httpbin", which envoy.yaml does not define (it has: backend); the call will fail with BadArgument',
      'plugin/src/lib.rs:7: dispatch_http_call to cluster "auth", which envoy.yaml does not define (it has: backend); the call will fail with BadArgument',
    ]);
  });
});

describe("goroutineWarnings", () => {
  it("names each go statement by file:line, and nothing else", async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "envoywasm-lint-"));
    await writeFile(
      path.join(dir, "main.go"),
      [
        "package main",
        "",
        "func a() {",
        "\tgo func() {}()", // 4
        "\tgo worker(1)", // 5
        "\t// go func() {} in a comment",
        '\tlog("go func() in a string")',
        "\tgoto done",
        "\tx := ago(1); go pkg.Run()", // 9
        "}",
      ].join("\n"),
    );
    await writeFile(path.join(dir, "main_test.go"), "package main\n\nfunc b() { go func() {}() }\n");
    const warnings = await goroutineWarnings(dir, "plugin");
    expect(warnings.map((w) => w.split(": ")[0])).toEqual(["plugin/main.go:4", "plugin/main.go:5", "plugin/main.go:9"]);
    expect(warnings[0]).toContain("OnTick");
  });
});

describe("registrationWarnings", () => {
  it("names a context registered in main() (never run in a c-shared module), not one registered in init()", async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "envoywasm-lint-"));
    await writeFile(
      path.join(dir, "main.go"),
      [
        "package main",
        "",
        "func main() {",
        '\tif true { log("}") }',
        "\tproxywasm.SetVMContext(&vmContext{})",
        "}",
        "",
        "func init() {",
        "\tproxywasm.SetHttpContext(newHttp)",
        "}",
        "",
      ].join("\n"),
    );
    expect(await registrationWarnings(dir, "plugin")).toEqual([
      "plugin/main.go:5: SetVMContext is called in main(), which a c-shared Go module never runs: move it into func init() (else the plugin fails at its start)",
    ]);
  });
});
