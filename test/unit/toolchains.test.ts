import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { formatCommand } from "../../src/platform/exec.js";
import { parseGoVersion, toolchainFor } from "../../src/build/toolchains.js";
import { cargoHome, parseRustcVersion, rustflags } from "../../src/build/cargo.js";

describe("toolchainFor", () => {
  it("builds with upstream Go as a wasip1 reactor", () => {
    const go = toolchainFor("go");
    expect(go.name).toBe("go");
    const spec = go.buildCommand("out.wasm", "/p/plugin", []);
    expect([spec.file, ...spec.args].join(" ")).toBe("go build -trimpath -buildvcs=false -buildmode=c-shared -o out.wasm .");
    // envoywasm.yaml's build.flags go before the package, and to go test as well (it compiles the same package).
    const tagged = go.buildCommand("out.wasm", "/p/plugin", ["-tags=fast", "-ldflags=-X main.v=1"]);
    expect(tagged.args.slice(-3)).toEqual(["-tags=fast", "-ldflags=-X main.v=1", "."]);
    expect(go.testCommand({ wasm: "m.wasm", run: "TestX", flags: ["-tags=fast"] }).args).toEqual([
      "test",
      "-json",
      "-count=1",
      "-tags=fast",
      "-run",
      "TestX",
      "./...",
    ]);
    expect(spec.env).toEqual({ GOOS: "wasip1", GOARCH: "wasm" });
    expect(formatCommand(spec.file, spec.args, spec.env)).toBe("GOOS=wasip1 GOARCH=wasm go build -trimpath -buildvcs=false -buildmode=c-shared -o out.wasm .");
    expect(go.fetchCommand()).toEqual({ file: "go", args: ["mod", "download"], env: {} });
  });

  it("builds with TinyGo for WASI without a scheduler", () => {
    const tinygo = toolchainFor("tinygo");
    expect(tinygo.name).toBe("tinygo");
    const spec = tinygo.buildCommand("out.wasm", "/p/plugin", []);
    expect([spec.file, ...spec.args].join(" ")).toBe("tinygo build -o out.wasm -scheduler=none -target=wasi .");
    // coraza-proxy-wasm's flags, for instance; go test runs the tests and takes none of TinyGo's.
    expect(tinygo.buildCommand("out.wasm", "/p/plugin", ["-gc=custom", "-tags=custommalloc"]).args).toEqual([
      "build",
      "-o",
      "out.wasm",
      "-scheduler=none",
      "-target=wasi",
      "-gc=custom",
      "-tags=custommalloc",
      ".",
    ]);
    expect(tinygo.testCommand({ wasm: "m.wasm", flags: ["-gc=custom"] }).args).toEqual(["test", "-json", "-count=1", "./..."]);
    expect(spec.env).toEqual({});
    expect(tinygo.fetchCommand()).toEqual({ file: "go", args: ["mod", "download"], env: {} });
  });

  it("keeps an output path with spaces as one argument", () => {
    const spec = toolchainFor("go").buildCommand("../build dir/my plugin.wasm", "/p/plugin", []);
    expect(spec.args).toEqual(["build", "-trimpath", "-buildvcs=false", "-buildmode=c-shared", "-o", "../build dir/my plugin.wasm", "."]);
  });

  it("builds with cargo for wasm32-wasip1, in release, with paths remapped for the same bytes in any folder", () => {
    const rust = toolchainFor("rust");
    expect(rust.name).toBe("rust");
    expect(rust.manifest).toBe("Cargo.toml");
    const spec = rust.buildCommand("{output}", "/no/such/p/plugin", []);
    // cargo writes to a path of its own (target/wasm32-wasip1/release/<lib>.wasm); the build copies it from there.
    expect([spec.file, ...spec.args].join(" ")).toBe("cargo build --release --target wasm32-wasip1");
    // build.flags after cargo's own, and before the test harness's arguments in cargo test.
    expect(rust.buildCommand("{output}", "/no/such/p/plugin", ["--features", "metrics"]).args.slice(-2)).toEqual(["--features", "metrics"]);
    expect(rust.testCommand({ wasm: "m.wasm", host: "x86_64-unknown-linux-gnu", run: "denies", flags: ["--features", "metrics"] }).args).toEqual([
      "test",
      "--target",
      "x86_64-unknown-linux-gnu",
      "--features",
      "metrics",
      "--",
      "denies",
    ]);
    const homes = [...new Set([realpathSync(cargoHome()), cargoHome()])].map((h) => `--remap-path-prefix=${h}=/cargo`);
    expect(spec.env).toEqual({ RUSTFLAGS: ["--remap-path-prefix=/no/such/p/plugin=.", ...homes].join(" ") });
    expect(rust.fetchCommand()).toBeUndefined();
    expect(rust.builtModule).toBeTypeOf("function");
  });

  it("keeps the caller's rustflags first, and encodes them when a path has a space or the caller encodes", () => {
    const home = { HOME: "/home/u" };
    expect(rustflags("/no/p", { ...home })).toEqual({ RUSTFLAGS: "--remap-path-prefix=/no/p=. --remap-path-prefix=/home/u/.cargo=/cargo" });
    expect(rustflags("/no/p", { ...home, CARGO_HOME: "/no/ch", RUSTFLAGS: " -C  target-feature=+simd128 " })).toEqual({
      RUSTFLAGS: "-C target-feature=+simd128 --remap-path-prefix=/no/p=. --remap-path-prefix=/no/ch=/cargo",
    });
    expect(rustflags("/no/my p", { ...home, CARGO_HOME: "/no/ch" })).toEqual({
      CARGO_ENCODED_RUSTFLAGS: ["--remap-path-prefix=/no/my p=.", "--remap-path-prefix=/no/ch=/cargo"].join("\x1f"),
    });
    // CARGO_ENCODED_RUSTFLAGS wins over RUSTFLAGS in cargo: keep it, and stay encoded.
    expect(rustflags("/no/p", { ...home, CARGO_HOME: "/no/ch", RUSTFLAGS: "-Cignored", CARGO_ENCODED_RUSTFLAGS: "-C\x1fopt-level=s" })).toEqual({
      CARGO_ENCODED_RUSTFLAGS: ["-C", "opt-level=s", "--remap-path-prefix=/no/p=.", "--remap-path-prefix=/no/ch=/cargo"].join("\x1f"),
    });
  });

  it("remaps a symlinked CARGO_HOME as cargo names it (the link) and as it is (the target)", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "envoywasm-cargo-home-"));
    try {
      mkdirSync(path.join(dir, "real"));
      symlinkSync(path.join(dir, "real"), path.join(dir, "link"));
      const real = realpathSync(path.join(dir, "real"));
      expect(rustflags("/no/p", { CARGO_HOME: path.join(dir, "link") })).toEqual({
        RUSTFLAGS: `--remap-path-prefix=/no/p=. --remap-path-prefix=${real}=/cargo --remap-path-prefix=${path.join(dir, "link")}=/cargo`,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("runs each toolchain's tests with its own command", () => {
    expect(toolchainFor("go").testCommand({ run: "TestX", wasm: "/p/build/x.wasm" })).toEqual({
      file: "go",
      args: ["test", "-json", "-count=1", "-run", "TestX", "./..."],
      env: { ENVOYWASM_WASM: "/p/build/x.wasm" },
      format: "go-json",
    });
    expect(toolchainFor("tinygo").testCommand({ wasm: "/w" }).format).toBe("go-json");
    const cargo = toolchainFor("rust");
    expect(cargo.testCommand({ wasm: "/w" })).toEqual({ file: "cargo", args: ["test"], env: { ENVOYWASM_WASM: "/w" }, format: "libtest" });
    expect(cargo.testCommand({ wasm: "/w", run: "redacts", verbose: true }).args).toEqual(["test", "--", "redacts", "--show-output"]);
    // On the host's target by name: a .cargo/config.toml's build.target (wasm32) would build the tests for wasm.
    expect(cargo.testCommand({ wasm: "/w", host: "x86_64-unknown-linux-gnu" }).args).toEqual(["test", "--target", "x86_64-unknown-linux-gnu"]);
  });

  it("detects the Rust installed here, with the wasm32-wasip1 target", async () => {
    const info = await toolchainFor("rust").detect();
    expect(info.name).toBe("rust");
    expect(info.version).toMatch(/^rustc \d+\.\d+\.\d+ .*; cargo \d+\.\d+\.\d+/);
    expect(parseRustcVersion(info.version)![0]).toBe(1);
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
    expect(parseGoVersion("tinygo version 0.34.0 linux/amd64 (using go version go1.23.4 and LLVM version 18.1.2)")).toEqual([1, 23, 4]);
  });

  it("returns undefined when there is no version", () => {
    expect(parseGoVersion("")).toBeUndefined();
    expect(parseGoVersion("bash: go: command not found")).toBeUndefined();
    expect(parseGoVersion("cargo1.75.0")).toBeUndefined();
  });
});
