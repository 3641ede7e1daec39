import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { identify, signalIfOurs, stillRunning } from "../../src/platform/identity.js";
import { readLock, releaseLock, removeStaleLock, takeLock } from "../../src/run/supervisor/lock.js";

const children: ReturnType<typeof spawn>[] = [];
let dir: string | undefined;
afterEach(async () => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

function sleeper() {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  children.push(child);
  return child;
}

async function identityOf(pid: number) {
  for (let i = 0; i < 100; i++) {
    const id = identify(pid);
    if (id !== undefined && id.command.includes("setInterval")) return id;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error("no identity");
}

describe("process identity: pid, start time and command line", () => {
  it("matches the process it was taken from, and not one that merely has its pid", async () => {
    const child = sleeper();
    const id = await identityOf(child.pid!);
    expect(id.startTime).toMatch(/^\d+$/);
    expect(stillRunning(id)).toBe(true);
    // The same pid with another start time is another process (a reused pid).
    expect(stillRunning({ ...id, startTime: String(Number(id.startTime) + 1) })).toBe(false);
    expect(stillRunning({ ...id, command: "something else" })).toBe(false);
    expect(signalIfOurs({ ...id, startTime: "1" }, "SIGKILL", false)).toBe(false);
    expect(stillRunning(id)).toBe(true);
    expect(signalIfOurs(id, "SIGKILL", false)).toBe(true);
    await new Promise((r) => child.once("exit", r));
    expect(stillRunning(id)).toBe(false);
    expect(signalIfOurs(id, "SIGTERM")).toBe(false);
  });
});

describe("the project lock", () => {
  it("one holder at a time; a lock whose owner is gone is stale and taken over", async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "envoywasm-lock-"));
    const file = path.join(dir, "run.lock");
    const first = await takeLock(file, "run-1");
    expect((await readLock(file))?.runId).toBe("run-1");
    await expect(takeLock(file, "run-2")).rejects.toThrow(/this project is already running \(pid \d+/);
    await first.release();
    expect(await readLock(file)).toBeUndefined();

    // A lock left by a process that is gone.
    const child = sleeper();
    const owner = await identityOf(child.pid!);
    await writeFile(file, JSON.stringify({ owner, runId: "dead", since: "then" }));
    expect(await removeStaleLock(file)).toBe(false);
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const taken = await takeLock(file, "run-3");
    expect(taken.staleOwner?.runId).toBe("dead");
    expect(JSON.parse(await readFile(file, "utf8")).runId).toBe("run-3");
    // Releasing someone else's lock does nothing.
    await releaseLock(file, "not-mine");
    expect((await readLock(file))?.runId).toBe("run-3");
    await taken.release();
  });

  it("the lock never exists without its whole content (a second `up` reading it then took it over)", async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "envoywasm-lock-"));
    const file = path.join(dir, "run.lock");
    // Another process reads the lock as fast as it can while this one takes and releases it, until told to stop.
    const stop = path.join(dir, "stop");
    const watcher = spawn(
      process.execPath,
      [
        "-e",
        `const fs = require("fs"); const [file, stop] = process.argv.slice(1); let reads = 0, partial = 0;
         const until = Date.now() + 60000;
         for (let i = 0; ; i++) {
           if (i % 1000 === 0 && (fs.existsSync(stop) || Date.now() > until)) break;
           let text; try { text = fs.readFileSync(file, "utf8"); } catch { continue; }
           reads++; try { JSON.parse(text); } catch { partial++; }
         }
         console.log(JSON.stringify({ reads, partial }));`,
        file,
        stop,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    children.push(watcher);
    let out = "";
    watcher.stdout!.on("data", (c: Buffer) => (out += c.toString()));
    const ended = new Promise((r) => watcher.once("exit", r));
    await new Promise((r) => setTimeout(r, 200)); // the watcher is reading
    for (let round = 0; round < 300; round++) await (await takeLock(file, `run-${round}`)).release();
    await writeFile(stop, "");
    await ended;
    await rm(stop);
    const seen = JSON.parse(out) as { reads: number; partial: number };
    expect(seen.reads).toBeGreaterThan(0);
    expect(seen.partial).toBe(0);
    expect(await readdir(dir)).toEqual([]); // nothing left beside it
  });

  it("a lock file that is not one is treated as stale", async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "envoywasm-lock-"));
    const file = path.join(dir, "run.lock");
    await writeFile(file, "not json");
    const taken = await takeLock(file, "run-4");
    expect((await readLock(file))?.runId).toBe("run-4");
    await taken.release();
  });
});
