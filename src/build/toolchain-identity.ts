import { statSync } from "node:fs";
import { onPath } from "../platform/which.js";

/** Environment variables that change what a build produces: part of its cache key. */
export const BUILD_ENV_KEYS = [
  "GOFLAGS",
  "GOEXPERIMENT",
  "GOWASM",
  "CGO_ENABLED",
  "GOTOOLCHAIN",
  "TINYGOFLAGS",
  "RUSTFLAGS",
  "CARGO_ENCODED_RUSTFLAGS",
  "RUSTUP_TOOLCHAIN",
];

/** Prefixes of more such variables: cargo reads any profile or build setting from CARGO_PROFILE_<name>_… and CARGO_BUILD_…. */
export const BUILD_ENV_PREFIXES = ["CARGO_PROFILE_", "CARGO_BUILD_"];

/** The variables of BUILD_ENV_KEYS and BUILD_ENV_PREFIXES that are set, with their values. */
export function buildEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && (BUILD_ENV_KEYS.includes(key) || BUILD_ENV_PREFIXES.some((p) => key.startsWith(p)))) out[key] = value;
  }
  return out;
}

/** What decides which Go runs: the binary on PATH and the variables that switch toolchains. */
export function goIdentity(): string | undefined {
  const go = onPath("go");
  if (go === undefined) return undefined;
  try {
    const s = statSync(go);
    const env = ["GOTOOLCHAIN", "GOROOT", "GOPATH", "GOENV"].map((k) => `${k}=${process.env[k] ?? ""}`).join("\0");
    return `${go}\0${s.size}\0${s.mtimeMs}\0${env}`;
  } catch {
    return undefined;
  }
}
