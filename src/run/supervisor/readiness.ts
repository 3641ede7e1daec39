import { UserError } from "../../errors.js";
import { ecdsStatus, envoyState, httpGet, stats } from "../../envoy/admin.js";
import type { RunPlan, ServicePlan } from "../plan.js";
import { delay } from "../../platform/time.js";
import type { Service } from "../runtime/service.js";
import { EcdsRejectedError, ServiceExitedError, ServiceTimeoutError } from "./errors.js";

/**
 * Waits until a started service is ready: Envoy's /ready says LIVE and every
 * Wasm filter serves this run's config; the backend answers HTTP on its port.
 * Throws when it exits first or the plan's timeout passes.
 */
export async function waitReady(service: Service, spec: ServicePlan, plan: RunPlan, onProgress: (text: string) => void): Promise<void> {
  const started = Date.now();
  let lastNotice = started;
  const probe = readinessProbe(service, spec);
  for (;;) {
    if (service.done) throw new ServiceExitedError(service.name, await service.exited);
    const state = await probe();
    if (state.ready) break;
    if (state.error !== undefined) throw new UserError(state.error.message, { hint: state.error.hint });
    const now = Date.now();
    if (now - started > plan.readyTimeoutMs) {
      let detail = state.detail;
      if (spec.ready.kind === "envoy-admin") {
        // What Envoy is stuck on: its /ready state and its Wasm counters.
        const wasm = await stats(spec.ready.port, "^wasm\\.", 3000);
        const shown = [...(wasm?.entries() ?? [])]
          .filter(([, v]) => v !== "0")
          .slice(0, 8)
          .map(([k, v]) => `${k}: ${v}`);
        detail = `/ready says ${state.detail ?? "nothing (the admin interface does not answer)"}${shown.length === 0 ? "" : `; ${shown.join(", ")}`}`;
      }
      throw new ServiceTimeoutError(service.name, plan.readyTimeoutMs, detail);
    }
    if (now - lastNotice >= 2000) {
      lastNotice = now;
      onProgress(`waiting for ${service.name}${state.detail === undefined ? "" : ` (${state.detail})`}, ${Math.round((now - started) / 1000)} s`);
    }
    await Promise.race([service.exited, delay(20)]);
  }
  if (spec.name === "envoy" && plan.ecds.length > 0) await waitEcds(service, spec.ready.port, started, plan);
}

/** /ready says LIVE even when a filter's first config was rejected (then every request gets 500 NFCF). */
async function waitEcds(service: Service, adminPort: number, started: number, plan: RunPlan): Promise<void> {
  const names = plan.ecds.map((e) => e.name);
  for (;;) {
    if (service.done) throw new ServiceExitedError(service.name, await service.exited);
    const status = await ecdsStatus(adminPort, names);
    if (status !== undefined) {
      const rejected = plan.ecds.find((e) => (status.get(e.name)?.rejected ?? 0) + (status.get(e.name)?.failed ?? 0) > 0);
      if (rejected !== undefined) {
        await delay(100);
        throw new EcdsRejectedError(rejected.plugin ?? rejected.name);
      }
      if (plan.ecds.every((e) => status.get(e.name)?.version === e.version)) return;
    }
    if (Date.now() - started > plan.readyTimeoutMs)
      throw new ServiceTimeoutError(service.name, plan.readyTimeoutMs, "the Wasm filter's config was not applied");
    await delay(20);
  }
}

type ProbeState = { ready: boolean; detail?: string; error?: { message: string; hint: string } };

/** Ready: Envoy's /ready says LIVE; the backend answers HTTP (any status) and is the one holding its port. */
function readinessProbe(service: Service, spec: ServicePlan): () => Promise<ProbeState> {
  const ready = spec.ready;
  if (ready.kind === "envoy-admin") {
    return async () => {
      const state = await envoyState(ready.port);
      return { ready: state === "LIVE", detail: state };
    };
  }
  return async () => {
    const answer = await httpGet(`http://127.0.0.1:${ready.port}/`, 1000);
    if (answer === undefined) return { ready: false };
    const owns = service.ownsPort?.(ready.port);
    if (owns === false) {
      return {
        ready: false,
        error: {
          message: `port ${ready.port} answers, but not from ${service.name}: another process took it`,
          hint: "stop that process (`envoywasm doctor` names it), then run `envoywasm up` again",
        },
      };
    }
    return { ready: true };
  };
}
