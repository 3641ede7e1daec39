import type { RunPlan, ServicePlan } from "../plan.js";
import { ProcessService } from "./process.js";
import type { Service } from "./service.js";

/**
 * How a run's services are made: host processes, or containers. The
 * supervisor asks the runtime for Services and does not know which it has.
 */
export interface Runtime {
  readonly kind: RunPlan["runtime"]["kind"];
  /** Before the first service starts (Docker: the container that holds the shared network). */
  setUp(): Promise<void>;
  service(spec: ServicePlan, onLine: (service: string, line: string) => void): Service;
  /** After every service stopped. */
  tearDown(): Promise<void>;
  /** Last resort in an exit hook: force everything down, synchronously as far as possible. */
  killNow(): void;
  /** Docker: the engine's address when it no longer answers (it stopped, and its containers with it). */
  lostEngine?(): Promise<string | undefined>;
}

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
