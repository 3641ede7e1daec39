import * as v from "valibot";
import type { EcdsResource } from "../../envoy/derive.js";
import type { ProjectPaths } from "../../project/paths.js";
import { schemaOf } from "../../platform/records.js";
import { EcdsPlanSchema } from "../plan.js";

/**
 * A reload's first half as plain data, passed from the CLI process that
 * prepared it (prepare.ts) to the supervisor that applies it (apply.ts).
 * Nothing here loads the build. The supervisor writes and prunes what it
 * names only under the project's .envoywasm folder: that needs the run's
 * root, so apply.ts checks it before anything is applied.
 */

export const ReloadTargetSchema = v.object({
  /** The run's runtime is Docker (paths as the container sees them, a Linux backend). */
  docker: v.boolean(),
  /** The running Envoy's version, to check the module's imports against. */
  envoyVersion: v.string(),
  /** The run has a backend service. */
  backend: v.boolean(),
});
export type ReloadTarget = v.InferOutput<typeof ReloadTargetSchema>;

export const PreparedFailureSchema = v.object({
  ok: v.literal(false),
  /** The first line says what failed. */
  message: v.string(),
  hint: v.optional(v.string()),
  /** The build failed (the previous modules keep serving). */
  build: v.optional(v.literal(true)),
  /** The compiler's messages, for the run's `build` log. */
  compilerOutput: v.optional(v.string()),
});
export type PreparedFailure = v.InferOutput<typeof PreparedFailureSchema>;

/** envoy/derive.ts and project/paths.ts declare these; the schemas must match them exactly. */
const ResourceSchema = schemaOf<Pick<EcdsResource, "name" | "file" | "dir" | "text" | "version">>()(
  v.object({ name: v.string(), file: v.string(), dir: v.string(), text: v.string(), version: v.string() }),
);
const PathsSchema = schemaOf<Pick<ProjectPaths, "run" | "modules">>()(v.object({ run: v.string(), modules: v.string() }));

export const PreparedChangeSchema = v.object({
  ok: v.literal(true),
  plugins: v.array(v.object({ dir: v.string(), wasmRelative: v.string(), sha256: v.string(), upToDate: v.boolean(), warnings: v.array(v.string()) })),
  buildMs: v.number(),
  backend: v.optional(v.object({ upToDate: v.boolean(), ms: v.number(), port: v.number() })),
  derived: v.object({ text: v.string(), skeletonHash: v.string(), resources: v.array(ResourceSchema) }),
  ecds: v.array(EcdsPlanSchema),
  /** The module copies the derived config uses. */
  modules: v.array(v.string()),
  envoy: v.object({
    ports: v.array(v.number()),
    admin: v.optional(v.number()),
    listeners: v.array(v.object({ name: v.string(), port: v.number() })),
    display: v.string(),
  }),
  paths: PathsSchema,
});
export type PreparedChange = v.InferOutput<typeof PreparedChangeSchema>;

export const PreparedReloadSchema = v.variant("ok", [PreparedChangeSchema, PreparedFailureSchema]);
export type PreparedReload = v.InferOutput<typeof PreparedReloadSchema>;

/** Whether the output of `__prepare-reload` is a prepared reload (run/reload/live.ts asks by this name). */
