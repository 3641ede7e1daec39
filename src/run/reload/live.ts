import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { serveControl } from "../supervisor/control.js";
import { childEnv } from "../supervisor/launch.js";
import * as v from "valibot";
import { PreparedReloadSchema, type PreparedReload, type ReloadTarget } from "./prepared.js";
import type { Reloader } from "./apply.js";
import type { SupervisorHandle } from "../supervisor/handle.js";
import { watchBuiltModules, watchSources } from "./watch.js";

/**
 * What a run does once it is ready: answer `envoywasm reload` on its control
 * socket, and either watch the sources and reload on every change (--watch)
 * or say when a module it serves was rebuilt under it. Returns a closer.
 */
export async function startLive(sup: SupervisorHandle): Promise<() => Promise<void>> {
  const plan = sup.plan;
  const { skeletonHash } = plan.live;
  // What to reload is built in a CLI process (reload/prepare.ts), so the background supervisor never loads the build.
  let loaded: Promise<Reloader> | undefined;
  const reloaderOf = () => (loaded ??= import("./apply.js").then(({ Reloader }) => new Reloader(sup, { skeletonHash })));
  const target: ReloadTarget = {
    docker: plan.runtime.kind === "docker",
    envoyVersion: plan.envoy.version,
    backend: plan.services.some((s) => s.name === "backend"),
  };
  const preparing = new Set<ChildProcess>();
  const prepare =
    sup.mode === "foreground"
      ? async () => (await import("./prepare.js")).prepareReload(plan.root, target)
      : () => prepareInChild(plan.root, target, preparing);
  const reloader = {
    reload: async (why: string, prepared?: () => Promise<PreparedReload>) => {
      const result = await (await reloaderOf()).reload(why, prepared ?? prepare);
      // A reload's garbage, collected now (the background supervisor has --expose-gc): a long --watch does not grow per save.
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
    await serveControl(plan.controlSocket, async (turn) => {
      // The client builds while it holds the turn (its place in the reload queue), and sends what it built.
      const result = await reloader.reload("envoywasm reload", async () => {
        turn.go();
        return turn.prepared;
      });
      report(result);
      return { type: "result", result };
    }),
  );

  if (plan.watch) {
    closers.push(
      watchSources({ root: plan.root, ...plan.live.sources }, (changed) => {
        const shown = changed.length <= 3 ? changed.join(", ") : `${changed.slice(0, 3).join(", ")} and ${changed.length - 3} more`;
        sup.notice(`${shown} changed: reloading…`);
        void reloader.reload(`${shown} changed`).then(report);
      }),
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
  // A prepare still running when the run stops is stopped with it (go stops cleanly on SIGINT).
  closers.push(() => {
    for (const child of preparing) child.kill("SIGINT");
  });
  return async () => {
    for (const close of closers) await close();
  };
}

/** Builds and derives a reload in a CLI process (`envoywasm __prepare-reload`), which prints it as JSON. */
async function prepareInChild(root: string, target: ReloadTarget, preparing: Set<ChildProcess>): Promise<PreparedReload> {
  const { PACKAGE_ROOT } = await import("../../platform/package-root.js");
  const bin = path.join(PACKAGE_ROOT, "bin", "envoywasm.js");
  // The environment `up` was given; what it says goes to the supervisor's log, so without colour.
  const env = { ...childEnv(), NO_COLOR: "1" };
  const child = spawn(process.execPath, [bin, "__prepare-reload", root, JSON.stringify(target)], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  preparing.add(child);
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => (out += text));
  child.stderr.setEncoding("utf8").on("data", (text: string) => (err = (err + text).slice(-4000)));
  return new Promise<PreparedReload>((resolve) => {
    const failed = (why: string): PreparedReload => {
      const last = err.trim().split("\n").at(-1);
      return { ok: false, message: `preparing the reload failed (${why})${last === undefined || last === "" ? "" : `: ${last}`}` };
    };
    child.once("error", (error) => {
      preparing.delete(child);
      resolve(failed(error.message));
    });
    child.once("close", (code, signal) => {
      preparing.delete(child);
      let parsed: unknown;
      try {
        parsed = JSON.parse(out);
      } catch {
        parsed = undefined;
      }
      resolve(v.is(PreparedReloadSchema, parsed) ? parsed : failed(signal === null ? `exit ${code}` : signal));
    });
  });
}
