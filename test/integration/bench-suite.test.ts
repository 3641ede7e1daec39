import { execa } from "execa";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO, removeTempDirs, tempDir } from "../helpers/cli.js";
import { processesUnder } from "../helpers/run.js";

afterAll(removeTempDirs);

interface Summary {
  median: number | null;
  min: number | null;
  max: number | null;
}

interface Figure {
  id: string;
  title: string;
  repetitions: number;
  value: Summary;
  baseline: Summary & { name: string };
  ratio: Summary;
  goal: { text: string; max: number } | null;
  met: boolean | null;
  overFloor?: { rps: Summary; p50AddedUs: Summary };
}

// The benchmark suite (`npm run bench`) in its smoke mode (every figure once, as small as it
// goes), once: it must run
// to the end and write complete results. It measures; nothing here asserts a time.
describe("bench/run.mjs --smoke", () => {
  it("measures every figure against a baseline, writes results.json and results.md, and leaves nothing behind", async () => {
    const out = await tempDir("envoywasm-bench-out-");
    const r = await execa(process.execPath, [path.join(REPO, "bench", "run.mjs"), "--smoke", "--out", out], {
      cwd: REPO,
      env: { NO_COLOR: "1" },
      reject: false,
      timeout: 900_000,
    });
    expect(r.exitCode, `${r.stderr}`).toBe(0);

    const results = JSON.parse(readFileSync(path.join(out, "results.json"), "utf8")) as {
      mode: string;
      machine: { cpus: number; model: string; memoryMiB: number; os: string };
      versions: { node: string; go: string; envoy: string; envoywasm: string };
      figures: Figure[];
    };
    expect(results.mode).toBe("smoke");
    expect(results.machine.cpus).toBeGreaterThan(0);
    for (const v of Object.values(results.versions)) expect(v).not.toBe("");

    const ids = results.figures.map((f) => f.id);
    // A smoke run measures the data path for one template (9a, and the Go floor 9f from its runs); 9b and 9c are
    // the same code with other plugins.
    expect(ids).toEqual(expect.arrayContaining(["1", "2", "3", "4", "5", "6", "7", "8", "9a", "9f", "11"]));
    for (const f of results.figures) {
      expect(f.repetitions, f.id).toBeGreaterThan(0);
      for (const s of [f.value, f.baseline, f.ratio]) {
        for (const k of ["median", "min", "max"] as const) expect(Number.isFinite(s[k]), `${f.id} ${k}`).toBe(true);
      }
      expect(f.baseline.name, f.id).not.toBe("");
      if (f.goal !== null) expect(typeof f.met, f.id).toBe("boolean");
    }
    // 9a: the template against the no-op filter (its value and baseline are requests/s, finite above), with the latency it adds.
    const data = results.figures.find((x) => x.id === "9a")!;
    expect(Number.isFinite(data.overFloor!.rps.median)).toBe(true);
    expect(Number.isFinite(data.overFloor!.p50AddedUs.median)).toBe(true);

    // The table: on stdout and in results.md, a row per figure.
    const table = readFileSync(path.join(out, "results.md"), "utf8");
    expect(r.stdout.trim()).toBe(table.trim());
    for (const id of ids) expect(table).toContain(`| ${id} |`);

    // Its temp folder, and everything it ran there, are gone.
    const root = /run in (\S+);/.exec(r.stderr)?.[1];
    expect(root, r.stderr).toBeDefined();
    expect(existsSync(root!)).toBe(false);
    expect(processesUnder(root!)).toEqual([]);
  }, 960_000);
});
