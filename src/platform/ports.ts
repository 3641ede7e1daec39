import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import net from "node:net";
import { commandLine } from "./identity.js";

/** Whether something already listens on host:port (we try to bind it ourselves). */
export function portInUse(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "EADDRINUSE" || error.code === "EACCES"));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(false)));
  });
}

export interface PortHolder {
  pid: number;
  /** Its process group. */
  pgid: number;
  command: string;
}

/**
 * Which process listens on a TCP port, from /proc (Linux only; elsewhere, or
 * for another user's process, undefined).
 */
export function findPortHolder(port: number): PortHolder | undefined {
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const row of text.split("\n").slice(1)) {
      const cols = row.trim().split(/\s+/);
      const local = cols[1];
      if (local === undefined || cols[3] !== "0A") continue; // 0A = LISTEN
      if (parseInt(local.split(":")[1] ?? "", 16) === port && cols[9] !== undefined) inodes.add(cols[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((p) => /^\d+$/.test(p));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
        if (inode !== undefined && inodes.has(inode)) return { pid: Number(pid), pgid: processGroup(Number(pid)), command: commandLine(Number(pid)) ?? "?" };
      } catch {
        // The fd closed meanwhile.
      }
    }
  }
  return undefined;
}

function processGroup(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
  } catch {
    return -1;
  }
}

/** The ports Linux gives outgoing connections (its default where it does not say). */
function ephemeralFloor(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 0) return low;
  } catch {
    // not Linux
  }
  return 32768;
}

const LOWEST = 10_000;
const handedOut = new Set<number>();

/**
 * A port nothing listens on right now, on 127.0.0.1, for a listener bound a
 * moment later. Picked at random below the range the OS takes outgoing
 * connections' ports from: a port from there (what port 0 gives) can be taken
 * by a connection in that moment, and a busy machine makes many. Never one
 * this process handed out before.
 */
export async function freePort(): Promise<number> {
  const top = ephemeralFloor();
  for (let tries = 0; top - LOWEST > 1000 && tries < 100; tries++) {
    const port = LOWEST + Math.floor(Math.random() * (top - LOWEST));
    if (handedOut.has(port) || (await portInUse(port))) continue;
    handedOut.add(port);
    return port;
  }
  // An ephemeral range that starts low (or none free below it): the OS's pick.
  for (;;) {
    const port = await osPort();
    if (!handedOut.has(port)) return (handedOut.add(port), port);
  }
}

function osPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ port: 0, host: "127.0.0.1" }, () => {
      const address = server.address() as net.AddressInfo;
      server.close(() => resolve(address.port));
    });
  });
}
