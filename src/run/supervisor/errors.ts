import { UserError } from "../../errors.js";
import { ui } from "../../ui/output.js";
import { diagnoseEnvoy, envoyErrorLines } from "../../envoy/diagnose.js";
import type { FileContext } from "../../envoy/config-errors.js";
import type { RunPlan, ServicePlan } from "../plan.js";
import { describeExit, type ExitInfo, type Service } from "../runtime/service.js";

/** How a service failed to start or ended on its own, and how that is told to the user. */

export class ServiceExitedError extends Error {
  constructor(
    readonly service: string,
    readonly exit: ExitInfo,
  ) {
    super(`${service} ${describeExit(exit)} before it was ready`);
  }
}

export class ServiceTimeoutError extends Error {
  constructor(
    readonly service: string,
    readonly timeoutMs: number,
    readonly detail?: string,
  ) {
    super(`${service} was not ready after ${Math.round(timeoutMs / 1000)} s${detail === undefined ? "" : ` (${detail})`}`);
  }
}

export class EcdsRejectedError extends Error {
  constructor(readonly plugin: string) {
    super(`Envoy did not load ${plugin}/`);
  }
}

/** The runtime could not start it at all (no such file, no image). */
export function couldNotStart(spec: ServicePlan, runtime: RunPlan["runtime"]["kind"], error: unknown): UserError {
  return new UserError(`could not start ${spec.name} (${spec.file}): ${(error as Error).message}`, {
    hint: runtime === "docker" ? "check the image and the Docker engine (`envoywasm doctor`)" : "check that the file exists and is executable",
  });
}

/** It started but never got ready: what it said last, and Envoy's own reason when it gave one. */
export function startFailure(service: Service, error: unknown, files: FileContext): UserError {
  if (error instanceof UserError) return error;
  const lines = service.recentLines();
  if (error instanceof ServiceExitedError || error instanceof ServiceTimeoutError || error instanceof EcdsRejectedError) {
    const diagnosis = service.name === "envoy" ? diagnoseEnvoy(lines, files) : undefined;
    const shown = (service.name === "envoy" ? envoyErrorLines(lines) : lines).slice(-12);
    const tail = shown.length === 0 ? "" : `\n${shown.map((l) => `  ${service.name} | ${l}`).join("\n")}`;
    // Explained: Envoy's own lines (which name the config derived from envoy.yaml) only with --verbose.
    if (diagnosis !== undefined) return new UserError(`${error.message}: ${diagnosis.message}${ui.verbose ? tail : ""}`, { hint: diagnosis.hint });
    return new UserError(`${error.message}${tail.length > 0 ? `; its last lines:${tail}` : ""}`, {
      hint: `the full output is in .envoywasm/logs/${service.name}.log${error instanceof ServiceTimeoutError ? "; a slow machine may need --ready-timeout" : ""}`,
    });
  }
  return new UserError(`${service.name} failed to start: ${(error as Error).message}`);
}

/** Why a service ended on its own, when it can be told: someone else stopped its container, or Envoy's own reason. */
export function crashDiagnosis(service: Service, files: FileContext): { message: string; hint: string } | undefined {
  if (service.stoppedFromOutside?.() === true) {
    return {
      message: "its container was stopped from outside envoywasm (docker stop, docker kill)",
      hint: "`envoywasm down` stops a run and `envoywasm up` starts it again",
    };
  }
  return service.name === "envoy" ? diagnoseEnvoy(service.recentLines(), files) : undefined;
}

/** What the explanation of a file Envoy cannot read needs: where the project is, as Envoy sees it. */
export function fileContext(plan: RunPlan): FileContext {
  const runtime = plan.runtime;
  const mount = runtime.kind === "docker" ? runtime.mounts.find((m) => m.host === plan.root) : undefined;
  return {
    root: plan.root,
    envoyConfig: plan.envoyConfig,
    container: runtime.kind === "docker" && mount !== undefined ? { mount: mount.container, user: runtime.user, groups: runtime.groups ?? [] } : undefined,
  };
}
