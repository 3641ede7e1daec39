import { describe, expect, it } from "vitest";
import { formatCommand } from "../../src/platform/exec.js";
import { parseGoVersion, toolchainFor } from "../../src/build/toolchains.js";

describe("toolchainFor", () => {
  it("builds with upstream Go as a wasip1 reactor", () => {
    const go = toolchainFor("go");
    expect(go.name).toBe("go");
    const spec = go.buildCommand("out.wasm");
    expect([spec.file, ...spec.args].join(" ")).toBe("go build -buildmode=c-shared -o out.wasm .");
    expect(spec.env).toEqual({ GOOS: "wasip1", GOARCH: "wasm" });
    expect(formatCommand(spec.file, spec.args, spec.env)).toBe("GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o out.wasm .");
    expect(go.fetchCommand()).toEqual({ file: "go", args: ["mod", "download"], env: {} });
  });

  it("builds with TinyGo for WASI without a scheduler", () => {
    const tinygo = toolchainFor("tinygo");
    expect(tinygo.name).toBe("tinygo");
    const spec = tinygo.buildCommand("out.wasm");
    expect([spec.file, ...spec.args].join(" ")).toBe("tinygo build -o out.wasm -scheduler=none -target=wasi .");
    expect(spec.env).toEqual({});
    expect(tinygo.fetchCommand()).toEqual({ file: "go", args: ["mod", "download"], env: {} });
  });

  it("keeps an output path with spaces as one argument", () => {
    const spec = toolchainFor("go").buildCommand("../build dir/my plugin.wasm");
    expect(spec.args).toEqual(["build", "-buildmode=c-shared", "-o", "../build dir/my plugin.wasm", "."]);
  });

  it("detects the Go installed here", async () => {
    const info = await toolchainFor("go").detect();
    expect(info.name).toBe("go");
    expect(info.version).toMatch(/^go version go\d+\.\d+/);
    const [major, minor] = parseGoVersion(info.version)!;
    expect(major * 1000 + minor).toBeGreaterThanOrEqual(1024);
  });
});

describe("parseGoVersion", () => {
  it("reads go version output", () => {
    expect(parseGoVersion("go version go1.26.8 linux/amd64")).toEqual([1, 26, 8]);
    expect(parseGoVersion("go version go1.24 darwin/arm64")).toEqual([1, 24, 0]);
    expect(parseGoVersion("go version go1.25rc1 linux/amd64")).toEqual([1, 25, 0]);
    expect(parseGoVersion("go version go1.23.10 windows/amd64\n")).toEqual([1, 23, 10]);
    expect(parseGoVersion("go version devel go1.27-4a3c2b1 Tue Nov 25 linux/amd64")).toEqual([1, 27, 0]);
  });

  it("finds the Go version TinyGo wraps", () => {
    expect(parseGoVersion("tinygo version 0.34.0 linux/amd64 (using go version go1.23.4 and LLVM version 18.1.2)")).toEqual([
      1, 23, 4,
    ]);
  });

  it("returns undefined when there is no version", () => {
    expect(parseGoVersion("")).toBeUndefined();
    expect(parseGoVersion("bash: go: command not found")).toBeUndefined();
    expect(parseGoVersion("cargo1.75.0")).toBeUndefined();
  });
});
