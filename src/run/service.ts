/**
 * What the supervisor supervises. A process and (later) a container both
 * implement this; the supervisor does not know which it has.
 */
export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Service {
  readonly name: string;
  /** Spawns; resolves once the service runs (not yet ready). */
  start(): Promise<void>;
  /** Resolves when the service answers; rejects if it exits first or takes too long. */
  waitReady(timeoutMs: number, onWaiting?: (elapsedMs: number) => void): Promise<void>;
  /** Resolves when the service has ended, for whatever reason. */
  readonly exited: Promise<ExitInfo>;
  /** Asks it to stop, waits up to graceMs, then forces it. Safe to call twice. */
  stop(graceMs: number): Promise<ExitInfo>;
  /** Forces it now, synchronously (for exit hooks). */
  killNow(): void;
  readonly pid: number | undefined;
  /** The last lines it wrote. */
  recentLines(): string[];
}

export function describeExit(info: ExitInfo): string {
  if (info.signal !== null) return `was killed by ${info.signal}`;
  return `exited with code ${info.code ?? "?"}`;
}
