import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { ProcessService, ServiceExitedError } from "../../src/run/process-service.js";
import type { Service } from "../../src/run/service.js";

// Real child processes (tiny Node programs in test/fixtures) make the hard
// cases of supervision repeatable.
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const running: Service[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) s.killNow();
});

function service(name: string, script: string, args: string[] = [], onLine: (s: string, l: string) => void = () => {}): ProcessService {
  const s = new ProcessService(
    { name, file: process.execPath, args: [fixture(script), ...args], cwd: process.cwd(), probe: async () => true },
    onLine,
  );
  running.push(s);
  return s;
}

/** Running, not merely a zombie waiting for a parent to reap it. */
function alive(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
  } catch {
    return false;
  }
}

describe("ProcessService", () => {
  it("escalates to SIGKILL when a program ignores SIGTERM", async () => {
    const lines: string[] = [];
    const s = service("stubborn", "ignores-sigterm.mjs", [], (_, l) => lines.push(l));
    await s.start();
    await waitFor(() => lines.includes("up"));
    const started = Date.now();
    const exit = await s.stop(300);
    expect(exit).toEqual({ code: null, signal: "SIGKILL" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(lines).toContain("got SIGTERM, ignoring it");
    expect(alive(s.pid!)).toBe(false);
  });

  it("reports a program that dies before it is ready, with what it said", async () => {
    const s = new ProcessService(
      { name: "dies", file: process.execPath, args: [fixture("dies-at-once.mjs")], cwd: process.cwd(), probe: async () => false },
      () => {},
    );
    running.push(s);
    await s.start();
    const error = await s.waitReady(10_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceExitedError);
    expect((error as ServiceExitedError).exit).toEqual({ code: 3, signal: null });
    expect(s.recentLines()).toEqual(["fatal: cannot open config.json"]);
  });

  it("hands over whole lines only, from services writing at once in pieces", async () => {
    const seen: [string, string][] = [];
    const onLine = (s: string, l: string) => seen.push([s, l]);
    const a = service("a", "partial-lines.mjs", ["he,llo NAME|wo,rld NAME|", "a"], onLine);
    const b = service("b", "partial-lines.mjs", ["x,y,z NAME|", "b"], onLine);
    await Promise.all([a.start(), b.start()]);
    await Promise.all([a.exited, b.exited]);
    const fromA = seen.filter(([s]) => s === "a").map(([, l]) => l);
    const fromB = seen.filter(([s]) => s === "b").map(([, l]) => l);
    expect(fromA.length).toBeGreaterThan(5);
    for (const l of fromA.slice(0, -1)) expect(["hello a", "world a"]).toContain(l);
    expect(fromA.at(-1)).toBe("last-a"); // the last line had no newline
    for (const l of fromB.slice(0, -1)) expect(l).toBe("xyz b");
    expect(fromB.at(-1)).toBe("last-b");
  });

  it("stops what a program started, too (its whole process group)", async () => {
    const lines: string[] = [];
    const s = service("parent", "with-grandchild.mjs", [], (_, l) => lines.push(l));
    await s.start();
    await waitFor(() => lines.some((l) => l.startsWith("grandchild ")));
    const grandchild = Number(lines.find((l) => l.startsWith("grandchild "))!.split(" ")[1]);
    expect(alive(grandchild)).toBe(true);
    await s.stop(2000);
    await waitFor(() => !alive(grandchild), 3000);
  });
});

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}
