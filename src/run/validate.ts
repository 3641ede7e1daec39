import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { UserError } from "../errors.js";
import { run } from "../lib/exec.js";
import type { ProjectPaths } from "../lib/paths.js";
import { writeFileAtomic } from "../lib/write-plan.js";
import { diagnoseEnvoy, envoyErrorLines } from "./envoy-diagnose.js";

/**
 * `envoy --mode validate` on the project's config. It also loads the .wasm,
 * so it catches what Envoy would refuse at start. It takes a second or two,
 * so a pass is remembered for the same config, module and Envoy.
 */
export async function validateEnvoyConfig(
  paths: ProjectPaths,
  root: string,
  configRel: string,
  envoy: { path: string; version: string },
): Promise<{ cached: boolean }> {
  const hash = createHash("sha256");
  hash.update(`${envoy.path}\0${envoy.version}\0${configRel}\0`);
  hash.update(await readFile(paths.envoyConfig));
  hash.update(await readFile(paths.wasm).catch(() => Buffer.from("no wasm")));
  const key = hash.digest("hex");
  const stampFile = path.join(paths.state, "validate.json");
  const previous = await readFile(stampFile, "utf8").catch(() => "");
  if (previous.trim() === key) return { cached: true };

  const result = await run(envoy.path, ["--mode", "validate", "-c", configRel, "--log-level", "warn"], { cwd: root, timeoutMs: 60_000 });
  if (result.exitCode !== 0) {
    const lines = result.all.split("\n");
    const diagnosis = diagnoseEnvoy(lines);
    const shown = envoyErrorLines(lines).slice(-10).map((l) => `  ${l}`).join("\n");
    throw new UserError(
      `Envoy rejected ${configRel}${diagnosis === undefined ? "" : `: ${diagnosis.message}`}${shown === "" ? "" : `\n${shown}`}`,
      { hint: diagnosis?.hint ?? `fix ${configRel}; check it with: envoy --mode validate -c ${configRel}` },
    );
  }
  await writeFileAtomic(stampFile, `${key}\n`);
  return { cached: false };
}
