import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { loadBootstrap } from "../envoy/bootstrap.js";
import { projectPaths } from "../lib/paths.js";
import { resolvePlugins } from "../lib/plugins.js";
import { loadProject } from "../lib/project-config.js";
import { serveControl } from "./control.js";
import type { Reloader } from "./reload.js";
import type { SupervisorHandle } from "./supervise.js";
import { watchBuiltModules, watchSources } from "./watch.js";

/**
 * What a run does once it is ready: answer `envoywasm reload` on its control
 * socket, and either watch the sources and reload on every change (--watch)
 * or say when a module it serves was rebuilt under it. Returns a closer.
 */
export async function startLive(sup: SupervisorHandle): Promise<() => Promise<void>> {
  const plan = sup.plan;
  const project = await loadProject(plan.root);
  const paths = projectPaths(project);
  const derivedText = await readFile(path.join(paths.run, "envoy.yaml"), "utf8");
  const skeletonHash = createHash("sha256").update(derivedText).digest("hex");
  // The reloader (and the build code it brings) is loaded on the first reload: a run that never
  // reloads keeps a smaller supervisor.
  let loaded: Promise<Reloader> | undefined;
  const reloaderOf = () => (loaded ??= import("./reload.js").then(({ Reloader }) => new Reloader(sup, { skeletonHash })));
  const reloader = {
    reload: async (why: string) => (await reloaderOf()).reload(why),
    idle: async () => (loaded === undefined ? undefined : (await loaded).idle()),
  };
  const report = (result: { ok: boolean; message: string; hint?: string; unchanged?: boolean }) => {
    sup.notice(result.message, result.ok ? "info" : "error");
    if (!result.ok && result.hint !== undefined) sup.notice(`  ${result.hint}`, "info");
  };
  const closers: (() => Promise<void> | void)[] = [];
  closers.push(
    await serveControl(plan.controlSocket, async () => {
      const result = await reloader.reload("envoywasm reload");
      report(result);
      return { type: "result", result };
    }),
  );

  const bootstrap = await loadBootstrap(paths.envoyConfig, project.config.envoy.config);
  const layout = resolvePlugins(project, bootstrap);
  if (plan.watch) {
    closers.push(
      watchSources(
        {
          root: plan.root,
          dirs: [...layout.plugins.map((p) => p.absDir), ...(paths.backendDir === undefined ? [] : [paths.backendDir])],
          files: [paths.envoyConfig, project.file],
        },
        (changed) => {
          const shown = changed.length <= 3 ? changed.join(", ") : `${changed.slice(0, 3).join(", ")} and ${changed.length - 3} more`;
          sup.notice(`${shown} changed: reloading…`);
          void reloader.reload(`${shown} changed`).then(report);
        },
      ),
    );
  } else {
    closers.push(
      watchBuiltModules(
        layout.plugins.map((p) => ({ file: p.wasmAbs, serving: () => plan.modules.find((m) => m.plugin === p.dir)?.sha256 })),
        (file, sha) =>
          sup.notice(
            `${path.relative(plan.root, file)} was rebuilt (sha256 ${sha.slice(0, 12)}); this run still serves the previous module: \`envoywasm reload\` loads it in place (or run with --watch)`,
            "warn",
          ),
        () => reloader.idle(),
      ),
    );
  }
  return async () => {
    for (const close of closers) await close();
  };
}
