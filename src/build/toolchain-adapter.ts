import type { Toolchain } from "../project/config.js";

/**
 * What envoywasm needs from a compiler, as data: the commands it runs are
 * argv and env, so they can be shown under --verbose and asserted in tests
 * even where the compiler itself is not installed. Each toolchain is one
 * adapter (toolchains.ts, cargo.ts); no command branches on the toolchain's name.
 */

export interface ToolchainInfo {
  name: Toolchain;
  /** What `<tool> version` printed, trimmed; part of the build's cache key. */
  version: string;
  /** The machine's own target (rust: rustc's host), for what runs here: the plugin's tests. */
  host?: string;
}

export interface CommandSpec {
  file: string;
  args: string[];
  /** Added to the inherited environment. */
  env: Record<string, string>;
}

/** How a test command reports: `go test -json` events, or libtest's lines (`test name ... ok`). */
export type TestOutputFormat = "go-json" | "libtest";

export interface TestCommand extends CommandSpec {
  format: TestOutputFormat;
}

/** What a test run asks for; `flags` are the project's build flags, for a test command that compiles like the build. */
export interface TestOptions {
  run?: string;
  verbose?: boolean;
  wasm: string;
  host?: string;
  flags?: readonly string[];
}

export interface ToolchainAdapter {
  name: Toolchain;
  /** The file that makes a folder a plugin of this toolchain (go.mod, Cargo.toml). */
  manifest: string;
  /** A plugin folder may be a main package of a module whose manifest lies in a folder above it (Go). */
  packageOfModule?: boolean;
  /** Lines the compiler prints to show progress (cargo's `Compiling …`), left out of a failed build's report. */
  progress?: RegExp;
  /** Checks the compiler is there and new enough, run from `dir` (which may pin a version); throws a UserError saying how to fix it. */
  detect(dir?: string): Promise<ToolchainInfo>;
  /** Fetches the module's dependencies, when the toolchain has a step for it. */
  fetchCommand(): CommandSpec | undefined;
  /** Compiles the plugin in `dir` (absolute) to `outFile` (relative to `dir`, or COMPILE_OUTPUT), with the project's build flags. */
  buildCommand(outFile: string, dir: string, flags: readonly string[]): CommandSpec;
  /**
   * For a compiler that cannot be told where to write (cargo): where the
   * module it built for the plugin in `dir` lies. The build copies it from
   * there and checks it as it checks any other.
   */
  builtModule?(dir: string): Promise<string>;
  /** The plugin's own tests; `wasm` is the built module (ENVOYWASM_WASM). */
  testCommand(options: TestOptions): TestCommand;
}
