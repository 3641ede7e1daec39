import path from "node:path";
import { diagnoseEnvoy } from "../../envoy/diagnose.js";
import { pruneModules, writeDerived } from "../derived-files.js";
import { ecdsStatus, type EcdsStatus } from "../../envoy/admin.js";
import type { EcdsPlan, ServicePlan } from "../plan.js";
import { portInUse } from "../../platform/ports.js";
import { delay } from "../../platform/time.js";
import type { PreparedChange, PreparedReload } from "./prepared.js";
import type { SupervisorHandle } from "../supervisor/handle.js";
import type { ReloadResult } from "./result.js";
import { writeFileAtomic } from "../../platform/files.js";

/**
 * Applies a prepared reload (built in a CLI process, reload/prepare.ts), one at a time: a plugin or a
 * Wasm filter's config is swapped in place through its ECDS file; the rest of envoy.yaml restarts Envoy;
 * the backend restarts alone. A compile error keeps the running module.
 */

export class Reloader {
  private queue: Promise<unknown> = Promise.resolve();
  private skeletonHash: string;
  private versions: Map<string, string>;

  constructor(
    private readonly sup: SupervisorHandle,
    initial: { skeletonHash: string },
  ) {
    this.skeletonHash = initial.skeletonHash;
    this.versions = new Map(sup.plan.ecds.map((e) => [e.name, e.version]));
  }

  private busy = 0;

  /** Queues a reload; `why` says what changed ("plugin/main.go changed", "envoywasm reload"); `prepare` builds and derives it. */
  reload(why: string, prepare: () => Promise<PreparedReload>): Promise<ReloadResult> {
    this.busy++;
    const next = this.queue.then(() => this.run(why, prepare)).finally(() => this.busy--);
    this.queue = next.catch(() => {});
    return next;
  }

  /** Resolves when no reload is queued or running. */
  async idle(): Promise<void> {
    while (this.busy > 0) await this.queue;
  }

  private async run(why: string, prepare: () => Promise<PreparedReload>): Promise<ReloadResult> {
    try {
      return await this.apply(why, await prepare());
    } catch (error) {
      const e = error as Error & { hint?: string };
      const first = e.message.split("\n")[0] ?? e.message;
      return { ok: false, message: `${why}: ${first}${/still serving/.test(first) ? "" : "; the previous version keeps running"}`, hint: e.hint };
    }
  }

  private async apply(why: string, prepared: PreparedReload): Promise<ReloadResult> {
    const plan = this.sup.plan;
    const docker = plan.runtime.kind === "docker";
    if (!prepared.ok) {
      if (prepared.compilerOutput !== undefined) {
        for (const line of prepared.compilerOutput.replace(/\n$/, "").split("\n")) this.sup.mux.line("build", line);
      }
      if (prepared.build !== true) throw Object.assign(new Error(prepared.message), { hint: prepared.hint });
      const servingNow = plan.modules.map((m) => m.sha256.slice(0, 12)).join(", ");
      throw Object.assign(
        new Error(`${(prepared.message.split("\n")[0] ?? "").replace(/ \(go build exited with \d+\)$/, "")}; still serving sha256 ${servingNow}`),
        {
          hint:
            why === "envoywasm reload"
              ? "fix it and run `envoywasm reload` again; the compiler's messages are above (and in `envoywasm logs build`)"
              : "fix it and save again; the compiler's messages are in the stream (and `envoywasm logs build`)",
        },
      );
    }
    // It came over the control socket: it may write and prune only under the project's .envoywasm.
    const own = path.join(plan.root, ".envoywasm") + path.sep;
    const written = [prepared.paths.run, prepared.paths.modules, ...prepared.modules, ...prepared.derived.resources.flatMap((r) => [r.file, r.dir])];
    const foreign = written.find((p) => !path.resolve(p).startsWith(own));
    if (foreign !== undefined) throw new Error(`the prepared reload names ${foreign}, outside this project's .envoywasm folder; nothing was applied`);
    const serving = new Map(plan.modules.map((m) => [m.plugin, m.sha256]));
    for (const p of prepared.plugins) for (const w of p.warnings) this.sup.notice(w, "warn");
    const done: string[] = [];
    const changedPlugins = prepared.plugins.filter((p) => serving.get(p.dir) !== p.sha256);
    const compiled = prepared.plugins.filter((p) => !p.upToDate);
    if (compiled.length > 0) done.push(`built ${compiled.map((p) => `${p.dir}/`).join(", ")} in ${(prepared.buildMs / 1000).toFixed(1)} s`);
    const backend = prepared.backend;
    const spec = plan.services.find((s) => s.name === "backend");
    if (backend !== undefined && spec !== undefined) {
      const port = backend.port;
      if (!backend.upToDate || spec.ready.port !== port) {
        // Checked before the running backend stops, as Envoy's new ports are: a taken one leaves the run as it was.
        if (spec.ready.port !== port && (await portInUse(port))) throw new Error(`the backend's port ${port} of the changed envoy.yaml is already in use`);
        const next: ServicePlan = { ...spec, env: { ...spec.env, PORT: String(port) }, ports: [port], ready: { kind: "http", port } };
        const t = performance.now();
        await this.sup.restartService(next);
        plan.services[plan.services.indexOf(spec)] = next;
        done.push(`rebuilt and restarted the backend in ${((performance.now() - t + backend.ms) / 1000).toFixed(1)} s`);
      }
    }

    const { derived, ecds } = prepared;
    const modules = new Set(prepared.modules);
    const newModules = prepared.plugins.map((b) => ({ plugin: b.dir, wasm: b.wasmRelative, sha256: b.sha256 }));
    const hashes = newModules.map((m) => `${m.plugin}/ ${m.sha256.slice(0, 12)}`).join(", ");

    let loaded = false;
    if (derived.skeletonHash !== this.skeletonHash) {
      const reason = await this.restartEnvoy(prepared, docker);
      done.push(`restarted Envoy in ${(reason.ms / 1000).toFixed(1)} s (${reason.why})`);
      loaded = true;
    } else {
      const changed = derived.resources.filter((r) => this.versions.get(r.name) !== r.version);
      if (changed.length > 0) {
        const t = performance.now();
        await this.applyResources(changed, ecds);
        const names = [...new Set(changed.map((r) => ecds.find((e) => e.name === r.name)?.plugin ?? r.name))];
        const what = changedPlugins.length === 0 ? "the new configuration of" : "";
        done.push(
          `loaded ${what}${what === "" ? "" : " "}${names.map((n) => `${n}/`).join(", ")} in place in ${((performance.now() - t) / 1000).toFixed(1)} s`,
        );
        loaded = true;
      }
    }
    await pruneModules(prepared.paths, modules);
    plan.ecds = ecds;
    this.versions = new Map(ecds.map((e) => [e.name, e.version]));
    await this.sup.setModules(newModules);

    if (!loaded && !done.some((d) => d.startsWith("restarted"))) {
      return { ok: true, unchanged: done.length === 0, message: `${why}: ${done.length === 0 ? "nothing to reload" : done.join("; ")}; serving ${hashes}` };
    }
    return { ok: true, message: `${why}: ${done.join(", ")}; now serving ${hashes}` };
  }

  /** Renames each changed filter's file into place and waits until Envoy serves it, or refused it. */
  private async applyResources(changed: PreparedChange["derived"]["resources"], ecds: EcdsPlan[]): Promise<void> {
    const plan = this.sup.plan;
    const names = changed.map((r) => r.name);
    const before = (await ecdsStatus(plan.admin, names, 15_000)) ?? new Map<string, EcdsStatus>();
    const lines: string[] = [];
    const stopListening = this.sup.listen((service, line) => {
      if (service === "envoy" && lines.length < 500) lines.push(line);
    });
    try {
      await this.waitApplied(changed, ecds, before, lines);
    } finally {
      stopListening();
    }
  }

  private async waitApplied(
    changed: PreparedChange["derived"]["resources"],
    ecds: EcdsPlan[],
    before: Map<string, EcdsStatus>,
    lines: string[],
  ): Promise<void> {
    const plan = this.sup.plan;
    const names = changed.map((r) => r.name);
    for (const r of changed) await writeFileAtomic(r.file, r.text);
    const deadline = Date.now() + Math.max(60_000, plan.readyTimeoutMs);
    for (;;) {
      // The admin interface stalls while Envoy compiles the module on its main thread: be patient.
      const now = await ecdsStatus(plan.admin, names, 30_000);
      if (now !== undefined) {
        const refused = changed.find((r) => {
          const a = before.get(r.name);
          const b = now.get(r.name);
          return b !== undefined && b.rejected + b.failed > (a?.rejected ?? 0) + (a?.failed ?? 0);
        });
        if (refused !== undefined) {
          await delay(100);
          const diagnosis = diagnoseEnvoy(lines, this.sup.fileContext());
          const plugin = ecds.find((e) => e.name === refused.name)?.plugin ?? refused.name;
          // Envoy keeps the previous config of a refused filter: it still serves.
          this.versions.set(refused.name, before.get(refused.name)?.version ?? "");
          throw Object.assign(new Error(`Envoy refused the new ${plugin}/${diagnosis === undefined ? "" : `: ${diagnosis.message}`}`), {
            hint: diagnosis?.hint ?? "Envoy's lines about it are in the stream (`envoywasm logs envoy`); the previous module keeps serving",
          });
        }
        if (changed.every((r) => now.get(r.name)?.version === r.version)) return;
      }
      if (Date.now() > deadline) throw new Error("Envoy did not apply the new module in time");
      await delay(25);
    }
  }

  private async restartEnvoy(prepared: PreparedChange, docker: boolean): Promise<{ why: string; ms: number }> {
    const plan = this.sup.plan;
    const spec = plan.services.find((s) => s.name === "envoy")!;
    const { derived, envoy } = prepared;
    const admin = envoy.admin;
    if (admin === undefined) throw new Error(`${envoy.display} has no admin interface any more`);
    const oldPorts = new Set(spec.ports);
    const newPorts = envoy.ports;
    const portsChanged = newPorts.length !== oldPorts.size || newPorts.some((p) => !oldPorts.has(p));
    if (portsChanged && docker) {
      throw Object.assign(new Error("envoy.yaml's ports changed, and a Docker run publishes its ports when it starts"), {
        hint: "stop the run and `envoywasm up` again",
      });
    }
    for (const p of newPorts) {
      if (!oldPorts.has(p) && (await portInUse(p))) throw new Error(`port ${p} of the changed envoy.yaml is already in use`);
    }
    await writeDerived(prepared.paths, derived, docker);
    const next: ServicePlan = { ...spec, ports: newPorts, ready: { kind: "envoy-admin", port: admin } };
    const t = performance.now();
    const oldAdmin = plan.admin;
    plan.admin = admin;
    plan.listeners = envoy.listeners;
    plan.ecds = derived.resources.map((r) => ({ name: r.name, file: r.file, version: r.version }));
    try {
      await this.sup.restartService(next);
    } catch (error) {
      plan.admin = oldAdmin;
      throw error;
    }
    plan.services[plan.services.indexOf(spec)] = next;
    this.skeletonHash = derived.skeletonHash;
    return {
      why: "the change is outside the HTTP Wasm filters (in envoy.yaml, or a plugin in a network filter or run as a service), which only a restart applies",
      ms: Math.round(performance.now() - t),
    };
  }
}
