import { statSync } from "node:fs";
import { onPath } from "../platform/which.js";

/** Environment variables that change what a build produces: part of its cache key. */
export const BUILD_ENV_KEYS = ["GOFLAGS", "GOEXPERIMENT", "GOWASM", "CGO_ENABLED", "GOTOOLCHAIN", "TINYGOFLAGS"];

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
