import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { tempDir } from "./cli.js";
import { waitFor } from "./wait.js";

/**
 * A second, private Docker engine for the tests that stop an engine under a
 * run (stopping the shared one would break the Docker tests running beside
 * them): its own dockerd and containerd, data and socket in a temp folder,
 * and its own bridge with a subnet of its own. Needs root, like dockerd.
 */
export interface Engine {
  /** DOCKER_HOST for it. */
  host: string;
  env: Record<string, string>;
  start(): Promise<void>;
  /** Stops it the way `systemctl stop docker` does (SIGTERM), and waits until it is gone. */
  stop(): Promise<void>;
  /** Stops it and removes its bridge and folder. */
  remove(): Promise<void>;
}

/** A system program, on PATH or in the sbin folders root's tools live in (a PATH without them is common). */
function systemProgram(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(path.delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  return dirs
    .filter((d) => d !== "")
    .map((d) => path.join(d, name))
    .find((f) => existsSync(f));
}

const DOCKERD = systemProgram("dockerd");
const IP = systemProgram("ip");

/** Why a private engine cannot be had here, or undefined when it can. */
export function privateEngineUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "a private Docker engine needs root";
  if (DOCKERD === undefined) return "dockerd was not found (PATH, /usr/sbin, /sbin)";
  if (IP === undefined) return "the ip command was not found (PATH, /usr/sbin, /sbin)";
  return undefined;
}

/** Its bridge is this and six hex digits. */
const BRIDGE_PREFIX = "ewt";

export async function privateEngine(): Promise<Engine> {
  const dir = await tempDir("envoywasm-engine-");
  const id = randomBytes(3).toString("hex");
  const bridge = `${BRIDGE_PREFIX}${id}`;
  const subnet = `10.${200 + (parseInt(id.slice(0, 2), 16) % 50)}.${parseInt(id.slice(2, 4), 16)}`;
  const ip = (...args: string[]) => spawnSync(IP!, args, { encoding: "utf8" });
  const made = ip("link", "add", bridge, "type", "bridge");
  if (made.status !== 0) throw new Error(`ip link add ${bridge}: ${made.stderr}`);
  ip("addr", "add", `${subnet}.1/24`, "dev", bridge);
  ip("link", "set", bridge, "up");
  const socket = path.join(dir, "docker.sock");
  const host = `unix://${socket}`;
  const env = { DOCKER_HOST: host };
  let daemon: ChildProcess | undefined;
  let output = "";
  const answers = () => spawnSync("docker", ["version", "--format", "{{.Server.Version}}"], { env: { ...process.env, ...env }, timeout: 5000 }).status === 0;

  const engine: Engine = {
    host,
    env,
    async start() {
      for (const d of ["data", "exec", "tmp"]) mkdirSync(path.join(dir, d), { recursive: true });
      daemon = spawn(
        DOCKERD!,
        [
          "--data-root",
          path.join(dir, "data"),
          "--exec-root",
          path.join(dir, "exec"),
          "--pidfile",
          path.join(dir, "dockerd.pid"),
          "--host",
          host,
          "--bridge",
          bridge,
          "--iptables=false",
          "--ip-masq=false",
        ],
        {
          stdio: ["ignore", "pipe", "pipe"],
          env: {
            ...process.env,
            // Its helpers (docker-proxy, runc) live beside it, in sbin.
            PATH: [process.env.PATH ?? "", "/usr/local/sbin", "/usr/sbin", "/sbin"].join(path.delimiter),
            // What it and its containerd write to TMPDIR (containerd's stack dump when it is slow to stop) stays in its folder.
            TMPDIR: path.join(dir, "tmp"),
          },
        },
      );
      daemon.stdout!.on("data", (c: Buffer) => (output += c.toString()));
      daemon.stderr!.on("data", (c: Buffer) => (output = (output + c.toString()).slice(-20_000)));
      await waitFor(
        () => {
          if (daemon!.exitCode !== null) throw new Error(`dockerd exited with ${daemon!.exitCode}:\n${output.slice(-2000)}`);
          return answers();
        },
        60_000,
        "the private Docker engine",
      );
    },
    async stop() {
      const d = daemon;
      if (d === undefined || d.exitCode !== null || d.signalCode !== null) return;
      const exited = new Promise((resolve) => d.once("exit", resolve));
      d.kill("SIGTERM");
      const timer = setTimeout(() => d.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(timer);
    },
    async remove() {
      await engine.stop();
      ip("link", "del", bridge);
      // dockerd unmounts its layers when it stops; anything it left mounted would keep rm from finishing.
      spawnSync("umount", ["-R", path.join(dir, "data")], { stdio: "ignore" });
      spawnSync("umount", ["-R", path.join(dir, "exec")], { stdio: "ignore" });
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await engine.start();
  } catch (error) {
    await engine.remove();
    throw error;
  }
  return engine;
}

/** Bridges a private engine left (its `remove()` never ran); removed, and listed. */
export function leftoverBridges(): string[] {
  const ip = systemProgram("ip");
  if (ip === undefined) return [];
  const links = spawnSync(ip, ["-o", "link", "show", "type", "bridge"], { encoding: "utf8" });
  if (links.status !== 0) return [];
  const names = [...links.stdout.matchAll(new RegExp(`^\\d+: (${BRIDGE_PREFIX}[0-9a-f]{6}):`, "gm"))].map((m) => m[1]!);
  for (const name of names) spawnSync(ip, ["link", "del", name], { stdio: "ignore" });
  return names.map((n) => `network bridge ${n}`);
}
