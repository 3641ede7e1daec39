import path from "node:path";
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
  const { skeletonHash } = plan.live;
  // The reloader (and the build code it brings) is loaded on the first reload: a run that never
  // reloads keeps a smaller supervisor.
  let loaded: Promise<Reloader> | undefined;
  const reloaderOf = () => (loaded ??= import("./reload.js").then(({ Reloader }) => new Reloader(sup, { skeletonHash })));
  const reloader = {
    reload: async (why: string) => {
      const result = await (await reloaderOf()).reload(why);
      // A reload reads modules and YAML and runs the build's code: give what it left back to the
      // system now (the background supervisor runs with --expose-gc), so a long --watch session
      // does not grow a little with every save.
      const gc = (globalThis as { gc?: () => void }).gc;
      if (gc !== undefined) setTimeout(gc, 100).unref();
      return result;
    },
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

  if (plan.watch) {
    closers.push(
      watchSources(
        { root: plan.root, ...plan.live.sources },
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
        plan.live.builtModules.map((m) => ({ file: m.file, serving: () => plan.modules.find((s) => s.plugin === m.plugin)?.sha256 })),
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
