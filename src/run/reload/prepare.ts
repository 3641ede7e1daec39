import { build } from "../../build/build.js";
import { backendTarget } from "../../project/backend.js";
import { deriveRun } from "../derived-files.js";
import { boundPorts } from "../../envoy/bootstrap.js";
import { goArch } from "../../platform/docker.js";
import { projectPaths } from "../../project/paths.js";
import { resolvePlugins } from "../../build/plugins.js";
import { loadProject } from "../../project/config.js";
import { buildBackend } from "../../build/backend.js";
import { ReloadTargetSchema, type PreparedChange, type PreparedReload, type ReloadTarget } from "./prepared.js";
import { parseJson } from "../../platform/records.js";
import { readEnvoyConfig } from "../../project/load.js";

/**
 * The first half of a reload: build what changed and derive the config Envoy
 * should run, as plain data. It runs in a CLI process (the `envoywasm reload`
 * that asked, a foreground `up`, or one the background supervisor starts
 * for --watch), so the long-lived background supervisor never loads the
 * build, YAML or the checks; the second half, applying it, is the
 * supervisor's (reload.ts).
 */

export async function prepareReload(root: string, target: ReloadTarget): Promise<PreparedReload> {
  const started = performance.now();
  let compilerOutput: string | undefined;
  let building = false;
  try {
    const project = await loadProject(root);
    const paths = projectPaths(project);
    const bootstrap = await readEnvoyConfig(project);
    building = true;
    const built = await build({
      cwd: root,
      project,
      bootstrap,
      envoyVersion: target.envoyVersion,
      onCompilerOutput: (text) => {
        compilerOutput = text;
      },
    });
    building = false;
    const buildMs = Math.round(performance.now() - started);
    const backendAt = backendTarget(project, bootstrap);
    let backend: PreparedChange["backend"];
    if (backendAt !== undefined && target.backend) {
      const rebuilt = await buildBackend(project, paths, target.docker ? { GOOS: "linux", GOARCH: goArch(), CGO_ENABLED: "0" } : undefined);
      backend = { upToDate: rebuilt.upToDate, ms: rebuilt.ms, port: backendAt.port };
    }
    const layout = resolvePlugins(project, bootstrap);
    const { derived, ecds, modules } = await deriveRun(project, paths, bootstrap, layout, built, target.docker);
    return {
      ok: true,
      plugins: built.plugins.map((p) => ({ dir: p.dir, wasmRelative: p.wasmRelative, sha256: p.sha256, upToDate: p.upToDate, warnings: p.warnings })),
      buildMs,
      backend,
      derived: {
        text: derived.text,
        skeletonHash: derived.skeletonHash,
        resources: derived.resources.map((r) => ({ name: r.name, file: r.file, dir: r.dir, text: r.text, version: r.version })),
      },
      ecds,
      modules: [...modules],
      envoy: {
        ports: boundPorts(bootstrap).map((p) => p.port),
        admin: bootstrap.admin?.port,
        listeners: bootstrap.listeners.map((l) => ({ name: l.name, port: l.port })),
        display: bootstrap.display,
      },
      paths: { run: paths.run, modules: paths.modules },
    };
  } catch (error) {
    const e = error as Error & { hint?: string };
    return {
      ok: false,
      message: e.message,
      hint: e.hint,
      ...(building ? { build: true } : {}),
      compilerOutput,
    };
  }
}

/**
 * `envoywasm __prepare-reload <root> <target JSON>`: the background supervisor of `up -d --watch`
 * has a CLI process build and derive each reload; it prints the result as JSON. Returns the exit code.
 */
export async function prepareReloadMain(args: readonly string[]): Promise<number> {
  const [root, text] = args;
  const target = text === undefined ? undefined : parseJson(ReloadTargetSchema, text);
  if (root === undefined || target === undefined || !target.ok) {
    process.stderr.write(`error: __prepare-reload is started by up -d's supervisor${target?.ok === false ? ` (its target: ${target.problem})` : ""}\n`);
    return 2;
  }
  process.stdout.write(`${JSON.stringify(await prepareReload(root, target.value))}\n`);
  return 0;
}
