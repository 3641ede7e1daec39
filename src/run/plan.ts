import * as v from "valibot";
import type { FailurePolicy } from "../envoy/bootstrap.js";
import { UserError } from "../errors.js";
import { badRecord, readRecord, schemaOf } from "../platform/records.js";

/**
 * Everything a supervisor needs to run a project, decided up front by `up`
 * (after its checks) and handed over whole: to the in-process supervisor, or
 * as JSON to the background one of `up -d`. What to run is said the same way
 * for both runtimes; the runtime decides how (a process, or a container).
 */
const PortSchema = v.pipe(v.number(), v.integer("a port number"), v.minValue(0, "a port number"), v.maxValue(65535, "a port number"));

export const ServicePlanSchema = v.object({
  name: v.string(),
  /** The program, its arguments, folder and environment, as the runtime sees them (container paths in Docker). */
  file: v.string(),
  args: v.array(v.string()),
  cwd: v.string(),
  env: v.record(v.string(), v.string()),
  /** Ports it serves on 127.0.0.1 (published on the host's loopback in Docker). */
  ports: v.array(PortSchema),
  ready: v.variant("kind", [v.object({ kind: v.literal("http"), port: PortSchema }), v.object({ kind: v.literal("envoy-admin"), port: PortSchema })]),
});
export type ServicePlan = v.InferOutput<typeof ServicePlanSchema>;

export const MountSchema = v.object({ host: v.string(), container: v.string(), readOnly: v.boolean() });
export type Mount = v.InferOutput<typeof MountSchema>;

export const RuntimePlanSchema = v.variant("kind", [
  v.object({ kind: v.literal("native") }),
  v.object({
    kind: v.literal("docker"),
    image: v.string(),
    /** Bind mounts, the same for every container of the run. */
    mounts: v.array(MountSchema),
    /** Ports published on the host's 127.0.0.1 (or all interfaces with --expose). */
    publish: v.array(PortSchema),
    publishAddress: v.string(),
    /** A static binary (host path) that holds the shared network namespace, as a pod's pause container does. */
    pauseBinary: v.string(),
    /** The user ("uid:gid") every container runs as: the one who ran envoywasm. */
    user: v.string(),
    /** That user's other groups, so group-readable files stay readable. */
    groups: v.array(v.number()),
    /** The folder the containers are labelled and named after, when not the project's (a test run's own). */
    scope: v.optional(v.string()),
  }),
]);
export type RuntimePlan = v.InferOutput<typeof RuntimePlanSchema>;

/** An HTTP Wasm filter loaded through ECDS, and the version the run expects it to serve. */
export const EcdsPlanSchema = v.object({
  name: v.string(),
  file: v.string(),
  version: v.string(),
  plugin: v.optional(v.string()),
  sha256: v.optional(v.string()),
});
export type EcdsPlan = v.InferOutput<typeof EcdsPlanSchema>;

/** envoy/bootstrap.ts declares it; this must match it exactly. */
const FailurePolicySchema = schemaOf<FailurePolicy>()(v.picklist(["FAIL_CLOSED", "FAIL_OPEN", "FAIL_RELOAD"]));

/** A module serving, and since when (a reload sets it; absent: since the run started). */
/** Which Envoy runs: its version, and its binary or its image. */
export const EnvoySchema = v.object({ version: v.string(), path: v.optional(v.string()), image: v.optional(v.string()) });
export const ListenerSchema = v.object({ name: v.string(), port: PortSchema });

export const ModuleSchema = v.object({ plugin: v.string(), wasm: v.string(), sha256: v.string(), since: v.optional(v.string()) });

export const RunPlanSchema = v.object({
  /** Unique per run: in the lock, the state, container labels. */
  runId: v.string(),
  root: v.string(),
  name: v.string(),
  logsDir: v.string(),
  stateFile: v.string(),
  lastRunFile: v.string(),
  lockFile: v.string(),
  /** The supervisor's control socket (reload, status). */
  controlSocket: v.string(),
  runtime: RuntimePlanSchema,
  /** The user's envoy.yaml (host path), to point at its lines when explaining a failure. */
  envoyConfig: v.optional(v.string()),
  services: v.array(ServicePlanSchema),
  envoy: EnvoySchema,
  admin: PortSchema,
  listeners: v.array(ListenerSchema),
  ecds: v.array(EcdsPlanSchema),
  /** The modules serving, by plugin folder. */
  modules: v.array(ModuleSchema),
  /** What Envoy does when the plugin traps (from envoy.yaml), for explaining it. */
  failurePolicy: FailurePolicySchema,
  readyTimeoutMs: v.number(),
  graceMs: v.number(),
  /** Whether the supervisor watches sources and reloads (up --watch). */
  watch: v.boolean(),
  /**
   * What the run watches once it is ready, decided by `up` (which has read
   * the project): the supervisor itself never parses YAML unless it reloads.
   */
  live: v.object({
    /** The sources `--watch` reloads on: plugin and backend folders, envoy.yaml, envoywasm.yaml. */
    sources: v.object({ dirs: v.array(v.string()), files: v.array(v.string()) }),
    /** Each plugin's built module, to say when it is rebuilt under a run that does not watch. */
    builtModules: v.array(v.object({ plugin: v.string(), file: v.string() })),
    /** sha256 of the derived envoy.yaml Envoy started with (a reload that changes it restarts Envoy). */
    skeletonHash: v.string(),
  }),
});
export type RunPlan = v.InferOutput<typeof RunPlanSchema>;

/** The plan `up -d` wrote for its background supervisor: parsed, never trusted blindly. */
export async function readRunPlan(file: string): Promise<RunPlan> {
  const read = await readRecord(file, RunPlanSchema);
  if (read === undefined) throw new UserError(`cannot read the run plan ${file}`);
  if (!read.ok) throw new UserError(badRecord(file, read.problem));
  return read.value;
}
