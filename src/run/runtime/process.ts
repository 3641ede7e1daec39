import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, rmSync, unlinkSync } from "node:fs";
import { Socket } from "node:net";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import { formatCommand } from "../../platform/exec.js";
import { ui } from "../../ui/output.js";
import { identify, type ProcessIdentity } from "../../platform/identity.js";
import type { ServicePlan } from "../plan.js";
import { findPortHolder } from "../../platform/ports.js";
import type { ExitInfo, Service, ServiceRecord } from "./service.js";
import { ServiceOutput } from "./output.js";
import { childEnv } from "../supervisor/launch.js";

/**
 * A supervised child process. It runs the real binary (no shell, no `go run`)
 * in a process group of its own, so a terminal's Ctrl-C reaches envoywasm
 * only, and stop() can signal everything the child started.
 */
export class ProcessService implements Service {
  readonly name: string;
  readonly exited: Promise<ExitInfo>;
  private child: ChildProcess | undefined;
  private identity: ProcessIdentity | undefined;
  private readonly output: ServiceOutput;

  constructor(
    private readonly spec: Pick<ServicePlan, "name" | "file" | "args" | "cwd" | "env" | "ports">,
    onLine: (service: string, line: string) => void,
  ) {
    this.name = spec.name;
    this.output = new ServiceOutput(spec.name, onLine);
    this.exited = this.output.exited;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get done(): boolean {
    return this.output.done;
  }

  recentLines(): string[] {
    return this.output.recentLines();
  }

  record(): ServiceRecord {
    return { name: this.name, ports: this.spec.ports, process: this.identity };
  }

  ownsPort(port: number): boolean | undefined {
    const holder = findPortHolder(port);
    if (holder === undefined) return undefined;
    return holder.pid === this.child?.pid || holder.pgid === this.child?.pid;
  }

  async start(): Promise<void> {
    ui.debug(`$ ${formatCommand(this.spec.file, this.spec.args, this.spec.env, this.spec.cwd)}`);
    // setpriv --pdeathsig: the kernel kills the child if this process dies unhandled (Node has no prctl of its own).
    const setpriv = pdeathsigWrapper();
    const [file, args] = setpriv === undefined ? [this.spec.file, this.spec.args] : [setpriv, ["--pdeathsig", "KILL", "--", this.spec.file, ...this.spec.args]];
    const pipes = outputPipes();
    let child: ChildProcess;
    try {
      child = spawn(file, args, {
        cwd: this.spec.cwd,
        env: { ...childEnv(), ...this.spec.env },
        stdio: ["ignore", pipes?.[0]?.write ?? "pipe", pipes?.[1]?.write ?? "pipe"],
        detached: true,
      });
    } catch (error) {
      for (const p of pipes ?? []) closeSync(p.read);
      throw error;
    } finally {
      // The child has its own copies now; ours would keep the pipes from ever ending.
      for (const p of pipes ?? []) closeSync(p.write);
    }
    this.child = child;
    const outputs: (Readable | null)[] = pipes === undefined ? [child.stdout, child.stderr] : pipes.map((p) => readEnd(p.read));
    for (const stream of outputs) if (stream !== null) this.output.follow(stream);
    // Listen before anything can happen: a program may exit at once.
    child.once("exit", (code, signal) => this.output.programEnded({ code, signal }));
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", () => resolve());
      child.once("error", (error) => {
        this.output.endNow({ code: 127, signal: null });
        reject(error);
      });
    });
    // Record the identity of the program itself: after setpriv's exec, and once its command line shows
    // (a process has none for an instant around an exec).
    for (let i = 0; i < 100 && !this.output.done; i++) {
      const id = identify(child.pid!);
      if (id !== undefined && id.command !== "" && (setpriv === undefined || !id.command.startsWith(setpriv))) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    this.identity = identify(child.pid!);
  }

  async stop(graceMs: number): Promise<ExitInfo> {
    if (this.child === undefined) return { code: null, signal: null };
    if (this.output.done) return this.exited;
    this.signalGroup("SIGTERM");
    const timer = setTimeout(() => this.signalGroup("SIGKILL"), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
      // Whatever the child started must not outlive it.
      this.signalGroup("SIGKILL");
    }
  }

  killNow(): void {
    this.signalGroup("SIGKILL");
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    // Once it exited, its pid alone may already be someone else's: only the group (still ours while any member lives).
    if (pid !== undefined) signalProcessGroup(pid, signal, !this.output.done);
  }
}

/**
 * Signals the process group led by pid (the program and all it started);
 * when there is no such group, the process itself if `orThePid`. Only for
 * children this process started and has not reaped: for anything recorded
 * earlier, use identity.ts's signalIfOurs.
 */
export function signalProcessGroup(pid: number, signal: NodeJS.Signals, orThePid = true): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      if (orThePid) process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/**
 * stdout and stderr as FIFOs, not Node's socket pairs, where a program logging a line per write runs
 * at a fifth of its speed. Undefined where mkfifo fails (then Node's pipes); spawnSync keeps execa out of the supervisor.
 */
function outputPipes(): { read: number; write: number }[] | undefined {
  let dir: string | undefined;
  try {
    dir = mkdtempSync(path.join(os.tmpdir(), "envoywasm-pipes-"));
    const files = [path.join(dir, "out"), path.join(dir, "err")];
    if (spawnSync("mkfifo", ["-m", "600", ...files], { stdio: "ignore" }).status !== 0) return undefined;
    const pipes: { read: number; write: number }[] = [];
    try {
      for (const file of files) {
        // The read end first, without waiting for a writer; then the write end opens at once.
        const read = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
        pipes.push({ read, write: -1 });
        pipes[pipes.length - 1]!.write = openSync(file, constants.O_WRONLY);
        unlinkSync(file);
      }
      return pipes;
    } catch {
      for (const p of pipes) for (const fd of [p.read, p.write]) if (fd >= 0) closeSync(fd);
      return undefined;
    }
  } catch {
    return undefined;
  } finally {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }
}

/** The read end of an output pipe as a stream that ends, and closes, when the last writer has gone. */
function readEnd(fd: number): Readable {
  const socket = new Socket({ fd, readable: true, writable: false });
  socket.on("end", () => socket.destroy());
  return socket;
}

let setprivPath: string | null | undefined;

/** setpriv (util-linux, Linux) if it is there and knows --pdeathsig. */
function pdeathsigWrapper(): string | undefined {
  if (setprivPath === undefined) {
    setprivPath = null;
    if (process.platform === "linux" && process.env.ENVOYWASM_NO_PDEATHSIG === undefined) {
      for (const candidate of ["/usr/bin/setpriv", "/bin/setpriv"]) {
        const probe = spawnSync(candidate, ["--pdeathsig", "KILL", "--", "true"], { stdio: "ignore" });
        if (probe.status === 0) {
          setprivPath = candidate;
          break;
        }
      }
    }
  }
  return setprivPath ?? undefined;
}
