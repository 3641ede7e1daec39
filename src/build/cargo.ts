import { existsSync, realpathSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { UserError } from "../errors.js";
import { run } from "../platform/exec.js";
import type { CommandSpec, TestCommand, TestOptions, ToolchainAdapter, ToolchainInfo } from "./toolchain-adapter.js";

/**
 * The rust toolchain: cargo builds the plugin, a `cdylib` crate depending on
 * the proxy-wasm crate, for wasm32-wasip1. envoywasm never installs Rust or
 * its targets; it says what to run.
 */

export const RUST_TARGET = "wasm32-wasip1";

/** wasm32-wasip1 is what Rust calls the target since 1.78 (before, wasm32-wasi). */
export const MIN_RUST = { major: 1, minor: 78 };

/** "rustc 1.95.0 (59807616e 2026-04-14)" → [1, 95, 0]. */
export function parseRustcVersion(text: string): [number, number, number] | undefined {
  const m = /^rustc (\d+)\.(\d+)\.(\d+)/m.exec(text);
  return m === null ? undefined : [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** Where cargo keeps downloaded crates, as cargo itself decides it. */
export function cargoHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.CARGO_HOME !== undefined && env.CARGO_HOME !== "" ? path.resolve(env.CARGO_HOME) : path.join(env.HOME ?? os.homedir(), ".cargo");
}

/**
 * The rustc flags of a build, as the variable that passes them: the caller's
 * own (CARGO_ENCODED_RUSTFLAGS, else RUSTFLAGS), then two path remaps, so the
 * same sources and toolchain give the same bytes in any folder and on any
 * machine: the paths built into the module (panic locations, code generated
 * under target/) name `./…` instead of the plugin's folder, and crates from
 * the registry `/cargo/…` instead of the user's CARGO_HOME. Like any
 * RUSTFLAGS, this replaces rustflags from Cargo's config files.
 */
export function rustflags(dir: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const encoded = env.CARGO_ENCODED_RUSTFLAGS !== undefined && env.CARGO_ENCODED_RUSTFLAGS !== "";
  const own = encoded ? env.CARGO_ENCODED_RUSTFLAGS!.split("\x1f") : (env.RUSTFLAGS ?? "").split(/\s+/).filter((f) => f !== "");
  // rustc sees the plugin folder as cargo's working folder (symlinks resolved), and CARGO_HOME as cargo was
  // given it (a symlink kept): both spellings of each are remapped.
  const spellings = (p: string) => [...new Set([realPath(p), path.resolve(p)])];
  const flags = [
    ...own,
    ...spellings(dir).map((d) => `--remap-path-prefix=${d}=.`),
    ...spellings(cargoHome(env)).map((h) => `--remap-path-prefix=${h}=/cargo`),
  ];
  // RUSTFLAGS reads well in --verbose; the encoded form only when the caller uses it or a path has a space.
  return encoded || flags.some((f) => /\s/.test(f)) ? { CARGO_ENCODED_RUSTFLAGS: flags.join("\x1f") } : { RUSTFLAGS: flags.join(" ") };
}

function realPath(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

async function detectRust(dir: string | undefined): Promise<ToolchainInfo> {
  // Run where the plugin is: a rust-toolchain.toml there picks the toolchain.
  const [cargo, rustc, sysroot] = await Promise.all([
    run("cargo", ["--version"], { cwd: dir, timeoutMs: 60_000 }),
    run("rustc", ["-vV"], { cwd: dir, timeoutMs: 60_000 }),
    run("rustc", ["--print", "sysroot"], { cwd: dir, timeoutMs: 60_000 }),
  ]);
  if (cargo.spawnError !== undefined || rustc.spawnError !== undefined) {
    throw new UserError(`${cargo.spawnError === undefined ? "rustc" : "cargo"} was not found on PATH, and this project uses the rust toolchain`, {
      hint: `install Rust with rustup (https://rustup.rs), then run \`rustup target add ${RUST_TARGET}\``,
    });
  }
  for (const r of [cargo, rustc, sysroot]) {
    if (r.exitCode !== 0) {
      throw new UserError(`\`${r.command}\` failed: ${(r.stderr || r.stdout).trim().split("\n")[0] || `exit ${r.exitCode}`}`, {
        hint: "check your Rust installation (`rustup show` says which toolchain this folder uses)",
      });
    }
  }
  const version = parseRustcVersion(rustc.stdout);
  if (version === undefined || version[0] < MIN_RUST.major || (version[0] === MIN_RUST.major && version[1] < MIN_RUST.minor)) {
    throw new UserError(`found ${rustc.stdout.split("\n")[0]}, but building for ${RUST_TARGET} needs Rust ${MIN_RUST.major}.${MIN_RUST.minor} or newer`, {
      hint: "update Rust: `rustup update`",
    });
  }
  const root = sysroot.stdout.trim();
  if (!existsSync(path.join(root, "lib", "rustlib", RUST_TARGET, "lib"))) {
    throw new UserError(`the Rust standard library for ${RUST_TARGET} is not installed for ${rustc.stdout.split("\n")[0]} (${root})`, {
      hint: `run \`rustup target add ${RUST_TARGET}\`${dir === undefined ? "" : ` in ${dir}`} (envoywasm does not install toolchains)`,
    });
  }
  return { name: "rust", version: `${rustc.stdout.split("\n")[0]}; ${cargo.stdout.trim()}`, host: /^host: (\S+)/m.exec(rustc.stdout)?.[1] };
}

/** What `cargo metadata --no-deps` says about the packages of a folder's workspace (the fields envoywasm reads). */
export interface CargoMetadata {
  target_directory: string;
  workspace_root: string;
  packages: CargoPackage[];
}

export interface CargoPackage {
  name: string;
  manifest_path: string;
  targets: { name: string; crate_types: string[] }[];
  dependencies: { name: string; rename: string | null; req: string; source: string | null; path?: string; kind: string | null }[];
  /** Every other field of [package], with inherited ones (key.workspace = true) resolved. */
  [field: string]: unknown;
}

/**
 * cargo's own reading of the Cargo.toml in `dir` and its workspace: it knows
 * [lib] name, CARGO_TARGET_DIR, build.target-dir, a workspace's target/ and
 * inherited fields. It reads manifests only: no network, nothing written.
 */
export async function cargoMetadata(dir: string): Promise<{ meta: CargoMetadata; pkg: CargoPackage | undefined }> {
  const r = await run("cargo", ["metadata", "--format-version", "1", "--no-deps"], { cwd: dir, timeoutMs: 60_000 });
  if (r.spawnError !== undefined) {
    throw new UserError("cargo was not found on PATH", { hint: `install Rust with rustup (https://rustup.rs), then run \`rustup target add ${RUST_TARGET}\`` });
  }
  if (r.exitCode !== 0) {
    throw new UserError(`cannot read ${path.join(dir, "Cargo.toml")}: ${r.stderr.trim().split("\n")[0] ?? ""}`, {
      hint: "`cargo metadata --no-deps` there says what is wrong",
    });
  }
  const meta = JSON.parse(r.stdout) as CargoMetadata;
  const manifest = path.join(realPath(dir), "Cargo.toml");
  return { meta, pkg: meta.packages.find((p) => realPath(path.dirname(p.manifest_path)) === path.dirname(manifest)) };
}

/** Where `cargo build --release --target wasm32-wasip1` put the module of the crate in `dir`: <target dir>/wasm32-wasip1/release/<lib name>.wasm. */
async function cargoModule(dir: string): Promise<string> {
  const { meta, pkg } = await cargoMetadata(dir);
  const manifest = path.join(dir, "Cargo.toml");
  const lib = pkg?.targets.find((t) => t.crate_types.includes("cdylib"));
  if (lib === undefined) {
    throw new UserError(`${manifest} builds no cdylib, so cargo wrote no .wasm module for Envoy`, {
      hint: 'Envoy loads the plugin as a library: add\n  [lib]\n  crate-type = ["cdylib"]\nto Cargo.toml',
    });
  }
  return path.join(meta.target_directory, RUST_TARGET, "release", `${lib.name}.wasm`);
}

function cargoTest(options: TestOptions): TestCommand {
  // On the machine's own target: the plugin's logic as plain Rust functions. Named, because a plugin's
  // .cargo/config.toml often sets build.target to wasm32, where cargo would build the tests and fail to run them.
  const target = options.host === undefined ? [] : ["--target", options.host];
  const harness = [...(options.run === undefined ? [] : [options.run]), ...(options.verbose === true ? ["--show-output"] : [])];
  return {
    file: "cargo",
    args: ["test", ...target, ...(options.flags ?? []), ...(harness.length === 0 ? [] : ["--", ...harness])],
    env: { ENVOYWASM_WASM: options.wasm },
    format: "libtest",
  };
}

export const rustAdapter: ToolchainAdapter = {
  name: "rust",
  manifest: "Cargo.toml",
  progress: /^\s*(?:Compiling|Checking|Updating|Locking|Adding|Downloading|Downloaded|Blocking|Fresh|Finished)\s/,
  detect: detectRust,
  // cargo build fetches what Cargo.lock names itself.
  fetchCommand: () => undefined,
  buildCommand(_outFile: string, dir: string, flags: readonly string[]): CommandSpec {
    return {
      file: "cargo",
      args: ["build", "--release", "--target", RUST_TARGET, ...flags],
      env: rustflags(dir),
    };
  },
  builtModule: cargoModule,
  testCommand: cargoTest,
};
