/** What the background supervisor of `up -d` tells the `up` that started it, over IPC. */
export type DaemonMessage = { type: "ready"; ms: number } | { type: "failed"; message: string; hint?: string };

export function isDaemonMessage(value: unknown): value is DaemonMessage {
  const v = value as DaemonMessage;
  if (v === null || typeof v !== "object") return false;
  if (v.type === "ready") return typeof v.ms === "number";
  return v.type === "failed" && typeof v.message === "string" && (v.hint === undefined || typeof v.hint === "string");
}


/** What `up -d` tells the supervisor it forked early (while it was still preparing): the plan to run. */
export interface PlanMessage {
  type: "plan";
  file: string;
}

export function isPlanMessage(value: unknown): value is PlanMessage {
  const v = value as PlanMessage;
  return v !== null && typeof v === "object" && v.type === "plan" && typeof v.file === "string";
}
