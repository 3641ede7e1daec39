import { mkdir } from "node:fs/promises";
import path from "node:path";
import { parseDocument, type Document } from "yaml";
import { isAnyAddress, isLoopback, type EnvoyBootstrap } from "../envoy/bootstrap.js";
import { writeFileAtomic } from "../platform/files.js";
import { freePort } from "../platform/ports.js";
import { backendTarget } from "../project/backend.js";
import type { Project } from "../project/config.js";

/**
 * The config of an Envoy that runs beside `up` (`envoywasm test`, `bench`):
 * envoy.yaml with every listener, the admin interface and each loopback
 * endpoint that pointed at one of them or at the backend moved to a free
 * port; the rest as written (its lines too, so a message about it names the
 * user's line). `moved` seeds the moves (e.g. a backend another copy already
 * moved); `edit` changes the copy before it is written. Returns the copy's
 * path relative to the project root, and every move.
 */
export async function remapPorts(
  project: Project,
  bootstrap: EnvoyBootstrap,
  dir: string,
  options: { file?: string; moved?: ReadonlyMap<number, number>; edit?: (doc: Document) => void } = {},
): Promise<{ config: string; moved: Map<number, number> }> {
  const doc = parseDocument(bootstrap.text);
  const moved = new Map(options.moved ?? []);
  const move = async (port: number) => {
    if (!moved.has(port)) moved.set(port, await freePort());
    return moved.get(port)!;
  };
  for (const l of bootstrap.listeners) doc.setIn([...l.addressPath, "port_value"], await move(l.port));
  if (bootstrap.admin !== undefined) doc.setIn([...bootstrap.admin.addressPath, "port_value"], await move(bootstrap.admin.port));
  // The backend's cluster (and any loopback endpoint on a port moved above).
  const backendCluster = backendTarget(project, bootstrap)?.cluster;
  for (const cluster of bootstrap.clusters) {
    for (const e of cluster.endpoints) {
      if (!(isLoopback(e.address) || isAnyAddress(e.address))) continue;
      if (cluster.name === backendCluster || moved.has(e.port)) doc.setIn([...e.path, "port_value"], await move(e.port));
    }
  }
  options.edit?.(doc);
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, options.file ?? "envoy.yaml");
  await writeFileAtomic(file, doc.toString({ lineWidth: 0 }));
  return { config: path.relative(project.root, file), moved };
}

/** Errors about the remapped copy name envoy.yaml, whose lines it keeps. */
export async function asTheUserWroteIt<T>(copy: string, display: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof Error) {
      error.message = error.message.replaceAll(copy, display);
      const withHint = error as Error & { hint?: string };
      if (typeof withHint.hint === "string") Object.defineProperty(error, "hint", { value: withHint.hint.replaceAll(copy, display) });
    }
    throw error;
  }
}

/** The progress line of a test or bench run as it starts its Envoys, naming the backend only when the plan has one. */
export function startingOnFreePorts(envoys: string, services: readonly { name: string }[]): string {
  return `starting ${envoys}${services.some((s) => s.name === "backend") ? " and the backend" : ""} on free ports`;
}
