/** What keeps one project's run apart from another's on the same machine. */
import { createHash } from "node:crypto";
import os from "node:os";
import path from "node:path";

/** Containers run as whoever runs envoywasm (see DockerRuntime); Envoy's image user where there are no uids. */
export function containerUser(): { user: string; groups: number[] } {
  if (process.getuid === undefined || process.getgid === undefined) return { user: "101:101", groups: [] };
  const gid = process.getgid();
  return { user: `${process.getuid()}:${gid}`, groups: (process.getgroups?.() ?? []).filter((g) => g !== gid) };
}

/** A base id per project, so two projects' Envoys run side by side. */
export function baseIdFor(root: string): number {
  const h = createHash("sha256").update(path.resolve(root)).digest();
  return 1000 + (h.readUInt32BE(0) % 60_000);
}

/** The supervisor's control socket: short enough for any project path (sockets allow ~100 bytes). */
export function controlSocketPath(root: string): string {
  const h = createHash("sha256").update(path.resolve(root)).digest("hex").slice(0, 16);
  const dir = process.env.XDG_RUNTIME_DIR !== undefined && process.env.XDG_RUNTIME_DIR !== "" ? process.env.XDG_RUNTIME_DIR : os.tmpdir();
  return path.join(dir, `envoywasm-${h}.sock`);
}
