import type { RunPlan, ServicePlan } from "../plan.js";
import type { ProcessIdentity } from "../../platform/identity.js";

/**
 * What the supervisor supervises. A process and a container both implement
 * this; the supervisor, the log multiplexer and the readiness checks do not
 * know which they have.
 */
export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** How a service is found again (by `status`, `down`, the next `up`): a process by identity, a container by id and labels. */
export interface ServiceRecord {
  name: string;
  ports: number[];
  process?: ProcessIdentity;
  container?: { id: string; name: string };
}

export interface Service {
  readonly name: string;
  /** Starts it; resolves once it runs (not yet ready). */
  start(): Promise<void>;
  /** Resolves when the service has ended, for whatever reason. */
  readonly exited: Promise<ExitInfo>;
  /** Whether it has ended. */
  readonly done: boolean;
  /** Asks it to stop, waits up to graceMs, then forces it. Safe to call twice. */
  stop(graceMs: number): Promise<ExitInfo>;
  /** Forces it now, synchronously as far as possible (for exit hooks). */
  killNow(): void;
  /** How to find it again. */
  record(): ServiceRecord;
  /** Whether what answers on `port` is this service (undefined: cannot tell). */
  ownsPort?(port: number): boolean | undefined;
  /** The last lines it wrote. */
  recentLines(): string[];
  /** Docker: whether someone else stopped or killed its container (`docker stop`, `docker kill`). */
  stoppedFromOutside?(): boolean;
}

export function describeExit(info: ExitInfo): string {
  if (info.signal !== null) return `was killed by ${info.signal}`;
  return `exited with code ${info.code ?? "?"}`;
}

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
