import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { UserError } from "../errors.js";
import { cacheHome } from "../platform/cache.js";
import { run } from "../platform/exec.js";
import { goIdentity } from "./toolchain-identity.js";
import type { Toolchain } from "../project/config.js";
import { writeFileAtomic } from "../platform/files.js";
import type { TestCommand, TestOptions, ToolchainAdapter, ToolchainInfo } from "./toolchain-adapter.js";
import { rustAdapter } from "./cargo.js";

export type { CommandSpec, TestCommand, TestOptions, TestOutputFormat, ToolchainAdapter, ToolchainInfo } from "./toolchain-adapter.js";

/**
 * The compilers envoywasm drives: Go and TinyGo here, Rust's cargo in
 * cargo.ts. A toolchain's commands are data (argv and env), so they can be
 * shown under --verbose and asserted in tests even where the compiler itself
 * is not installed.
 */

export const MIN_GO = { major: 1, minor: 24 };

/** "go version go1.26.8 linux/amd64" → [1, 26, 8]. */
export function parseGoVersion(text: string): [number, number, number] | undefined {
  const m = /\bgo(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (m === null) return undefined;
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

let goDetected: Promise<ToolchainInfo> | undefined;

/** `go test -json` in the plugin folder: the Go templates' tests run natively and, given ENVOYWASM_WASM, against the module. */
function goTest(options: TestOptions): TestCommand {
  const args = ["test", "-json", "-count=1", ...(options.flags ?? [])];
  if (options.run !== undefined) args.push("-run", options.run);
  args.push("./...");
  return { file: "go", args, env: { ENVOYWASM_WASM: options.wasm }, format: "go-json" };
}

const goAdapter: ToolchainAdapter = {
  name: "go",
  manifest: "go.mod",
  packageOfModule: true,
  detect() {
    // One `go version` per run is enough (up builds the plugin and the backend),
    // and none while the go binary and the settings that pick a toolchain stay
    // the same: that keeps a no-op build from starting any program.
    goDetected ??= remembered(goIdentity(), detectGo);
    goDetected.catch(() => (goDetected = undefined));
    return goDetected;
  },
  fetchCommand() {
    return { file: "go", args: ["mod", "download"], env: {} };
  },
  buildCommand(outFile, _dir, flags) {
    // The same bytes from the same sources and Go in any folder, cache or checkout: no file system
    // paths in the module (a panic names module/file.go) and no VCS stamp (commit, dirty tree).
    return {
      file: "go",
      args: ["build", "-trimpath", "-buildvcs=false", "-buildmode=c-shared", "-o", outFile, ...flags, "."],
      env: { GOOS: "wasip1", GOARCH: "wasm" },
    };
  },
  testCommand: goTest,
};

async function remembered(identity: string | undefined, detect: () => Promise<ToolchainInfo>): Promise<ToolchainInfo> {
  const file = path.join(cacheHome(), "go-version.json");
  if (identity !== undefined) {
    try {
      const memo = JSON.parse(await readFile(file, "utf8")) as { identity?: unknown; info?: { name?: unknown; version?: unknown } } | null;
      if (memo?.identity === identity && typeof memo.info?.version === "string" && memo.info.name === "go") return memo.info as ToolchainInfo;
    } catch {
      // Nothing remembered yet.
    }
  }
  const info = await detect();
  if (identity !== undefined) {
    try {
      await mkdir(path.dirname(file), { recursive: true });
      await writeFileAtomic(file, JSON.stringify({ identity, info }));
    } catch {
      // A read-only cache only costs time.
    }
  }
  return info;
}

async function detectGo(): Promise<ToolchainInfo> {
  const result = await run("go", ["version"], { timeoutMs: 30_000 });
  if (result.spawnError !== undefined) {
    throw new UserError("the go toolchain was not found on PATH", {
      hint: "install Go 1.24 or newer (https://go.dev/dl/) and make sure `go version` works, or use --toolchain tinygo",
    });
  }
  const version = parseGoVersion(result.stdout);
  if (result.exitCode !== 0 || version === undefined) {
    throw new UserError(`\`go version\` failed: ${(result.stderr || result.stdout).trim() || `exit ${result.exitCode}`}`, {
      hint: "check your Go installation (GOROOT, GOTOOLCHAIN)",
    });
  }
  const [major, minor] = version;
  if (major < MIN_GO.major || (major === MIN_GO.major && minor < MIN_GO.minor)) {
    throw new UserError(`found Go ${version.join(".")}, but building a proxy-wasm plugin with Go needs Go 1.24 or newer`, {
      hint: "Go 1.24 added -buildmode=c-shared for wasip1 (the reactor Envoy loads); upgrade Go (https://go.dev/dl/) or set GOTOOLCHAIN=go1.24.0",
    });
  }
  return { name: "go", version: result.stdout.trim() };
}

const tinygoAdapter: ToolchainAdapter = {
  name: "tinygo",
  manifest: "go.mod",
  packageOfModule: true,
  async detect() {
    const result = await run("tinygo", ["version"], { timeoutMs: 30_000 });
    if (result.spawnError !== undefined) {
      throw new UserError("tinygo was not found on PATH, and this project uses the tinygo toolchain", {
        hint: "install TinyGo (https://tinygo.org/getting-started/install/), or switch to upstream Go: set `toolchain: go` in envoywasm.yaml and port the plugin to github.com/proxy-wasm/proxy-wasm-go-sdk",
      });
    }
    if (result.exitCode !== 0) {
      throw new UserError(`\`tinygo version\` failed: ${(result.stderr || result.stdout).trim()}`, {
        hint: "check your TinyGo installation",
      });
    }
    return { name: "tinygo", version: result.stdout.trim() };
  },
  fetchCommand() {
    // TinyGo resolves modules through the go command it wraps.
    return { file: "go", args: ["mod", "download"], env: {} };
  },
  buildCommand(outFile, _dir, flags) {
    return { file: "tinygo", args: ["build", "-o", outFile, "-scheduler=none", "-target=wasi", ...flags, "."], env: {} };
  },
  // The tests are Go's, against the SDK's emulator; TinyGo is only the module's compiler (its flags are not go test's).
  testCommand: (options) => goTest({ ...options, flags: [] }),
};

const ADAPTERS: Record<Toolchain, ToolchainAdapter> = { go: goAdapter, tinygo: tinygoAdapter, rust: rustAdapter };

export function toolchainFor(name: Toolchain): ToolchainAdapter {
  return ADAPTERS[name];
}

/** The toolchain of this name, if envoywasm has one (for names read from a record). */
export function toolchainNamed(name: string): ToolchainAdapter | undefined {
  return Object.hasOwn(ADAPTERS, name) ? ADAPTERS[name as Toolchain] : undefined;
}
