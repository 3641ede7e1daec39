import { readFile, rm } from "node:fs/promises";
import { writeFileAtomic } from "../lib/write-plan.js";
import { commandLine } from "./ports.js";
import { signalProcessGroup } from "./process-service.js";

/**
 * .envoywasm/state.json: who runs this project's services. Written by the
 * supervisor (the foreground `up`, or the background one of `up -d`) once
 * its children run, removed when it stops them. A file whose supervisor is
 * dead is a leftover of a crash or a kill -9, and is cleaned up.
 */
export interface ServiceState {
  name: string;
  pid: number;
  /** A word of its command line, so a recycled pid is not mistaken for it. */
  match: string;
  port: number;
}

export interface RunState {
  version: 1;
  supervisorPid: number;
  mode: "foreground" | "detached";
  startedAt: string;
  readyAt?: string;
  envoy: { path: string; version: string; baseId: number };
  ports: { listener: number; admin: number; backend: number };
  services: ServiceState[];
}

export async function readState(file: string): Promise<RunState | undefined> {
  try {
    const value = JSON.parse(await readFile(file, "utf8")) as RunState;
    return value.version === 1 && Array.isArray(value.services) ? value : undefined;
  } catch {
    return undefined;
  }
}

export async function writeState(file: string, state: RunState): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(state, null, 2)}\n`);
}

export async function removeState(file: string): Promise<void> {
  await rm(file, { force: true });
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Alive, and still the program we started (not a recycled pid). */
export function serviceAlive(service: ServiceState): boolean {
  if (!pidAlive(service.pid)) return false;
  const cmd = commandLine(service.pid);
  if (cmd === undefined) return true; // no /proc: trust the pid
  if (cmd === "") return false; // a zombie
  return cmd.includes(service.match);
}

export function supervisorAlive(state: RunState): boolean {
  if (!pidAlive(state.supervisorPid)) return false;
  const cmd = commandLine(state.supervisorPid);
  return cmd === undefined || cmd.includes("envoywasm") || cmd.includes("node");
}

/** Stops the services a dead supervisor left behind; returns which it stopped. */
export async function reapLeftovers(state: RunState, graceMs = 3000): Promise<string[]> {
  const stopped: string[] = [];
  for (const service of state.services) {
    if (!serviceAlive(service)) continue;
    signalProcessGroup(service.pid, "SIGTERM");
    stopped.push(`${service.name} (pid ${service.pid})`);
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && state.services.some(serviceAlive)) await new Promise((r) => setTimeout(r, 50));
  for (const service of state.services) if (serviceAlive(service)) signalProcessGroup(service.pid, "SIGKILL");
  return stopped;
}
