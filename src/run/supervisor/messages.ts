import * as v from "valibot";

/** What the background supervisor of `up -d` tells the `up` that started it, over IPC. */
export const DaemonMessageSchema = v.variant("type", [
  v.object({ type: v.literal("ready"), ms: v.number() }),
  v.object({ type: v.literal("failed"), message: v.string(), hint: v.optional(v.string()) }),
]);
export type DaemonMessage = v.InferOutput<typeof DaemonMessageSchema>;

/** Whether an IPC message is one of these (`up`, in commands/, asks by this name). */

/** What `up -d` tells the supervisor it forked early (while it was still preparing): the plan to run. */
export const PlanMessageSchema = v.object({ type: v.literal("plan"), file: v.string() });
export type PlanMessage = v.InferOutput<typeof PlanMessageSchema>;
