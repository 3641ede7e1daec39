import type { RunPlan, ServicePlan } from "../plan.js";
import { ProcessService } from "./process.js";
import type { Runtime, Service } from "./service.js";

export type { Runtime } from "./service.js";

export async function runtimeFor(plan: RunPlan): Promise<Runtime> {
  if (plan.runtime.kind === "docker") {
    const { DockerRuntime } = await import("./docker.js");
    return new DockerRuntime(plan, plan.runtime);
  }
  return new ProcessRuntime();
}

export class ProcessRuntime implements Runtime {
  readonly kind = "native" as const;
  private readonly services: ProcessService[] = [];
  async setUp(): Promise<void> {}
  service(spec: ServicePlan, onLine: (service: string, line: string) => void): Service {
    const s = new ProcessService(spec, onLine);
    this.services.push(s);
    return s;
  }
  async tearDown(): Promise<void> {}
  killNow(): void {
    for (const s of this.services) s.killNow();
  }
}
