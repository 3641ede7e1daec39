import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UserError } from "../../src/errors.js";
import { writePlan } from "../../src/scaffold/write-plan.js";
import type { PlannedFile } from "../../src/scaffold/templates.js";
import { writeFileAtomic } from "../../src/platform/files.js";

const PLAN: PlannedFile[] = [
  { path: "envoywasm.yaml", contents: "name: x\n" },
  { path: "plugin/main.go", contents: "package main\n" },
  { path: "plugin/deep/nested/file.txt", contents: "deep\n" },
  { path: ".gitignore", contents: "/build/\n" },
];

/** Every file under dir, relative, with its contents. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    out[path.relative(dir, full).split(path.sep).join("/")] = await readFile(full, "utf8");
  }
  return out;
}

async function rejection(promise: Promise<unknown>): Promise<UserError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UserError);
  return error as UserError;
}

let tmp: string;
beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "envoywasm-write-"));
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("writePlan", () => {
  it("creates a new folder with every planned file", async () => {
    const dir = path.join(tmp, "a", "new", "project");
    const report = await writePlan(dir, PLAN, false);
    expect(report).toEqual({ created: PLAN.map((f) => f.path), unchanged: [], kept: [] });
    expect(await snapshot(dir)).toEqual(Object.fromEntries(PLAN.map((f) => [f.path, f.contents])));
  });

  it("writes into an existing empty folder", async () => {
    const report = await writePlan(tmp, PLAN, false);
    expect(report.created).toHaveLength(PLAN.length);
    expect(await snapshot(tmp)).toEqual(Object.fromEntries(PLAN.map((f) => [f.path, f.contents])));
  });

  it("refuses a folder that is not empty, naming what is in it, and writes nothing", async () => {
    await writeFile(path.join(tmp, "notes.txt"), "mine\n");
    const e = await rejection(writePlan(tmp, PLAN, false));
    expect(e.message).toBe(`${tmp} is not empty (it has notes.txt)`);
    expect(e.exitCode).toBe(1);
    expect(e.hint).toContain("--force");
    expect(await snapshot(tmp)).toEqual({ "notes.txt": "mine\n" });
  });

  it("lists a few entries, sorted, and counts the rest", async () => {
    for (const name of ["f", "e", "d", "c", "b", "a"]) await writeFile(path.join(tmp, name), "");
    const e = await rejection(writePlan(tmp, PLAN, false));
    expect(e.message).toBe(`${tmp} is not empty (it has a, b, c, d, … (6 entries))`);
  });

  it("treats a folder with only .git (and editor litter) as empty", async () => {
    await mkdir(path.join(tmp, ".git", "objects"), { recursive: true });
    await writeFile(path.join(tmp, ".git", "HEAD"), "ref: refs/heads/main\n");
    await writeFile(path.join(tmp, ".DS_Store"), "");
    const report = await writePlan(tmp, PLAN, false);
    expect(report.created).toEqual(PLAN.map((f) => f.path));
    expect(await readFile(path.join(tmp, ".git", "HEAD"), "utf8")).toBe("ref: refs/heads/main\n");
  });

  it("refuses a path that is a file, not a folder", async () => {
    const file = path.join(tmp, "plain");
    await writeFile(file, "x");
    const e = await rejection(writePlan(file, PLAN, false));
    expect(e.message).toBe(`${file} exists and is not a folder`);
  });

  it("with force, writes only the missing files: an existing one is kept as it is (listed when it differs)", async () => {
    await mkdir(path.join(tmp, "plugin"));
    await writeFile(path.join(tmp, "plugin", "main.go"), "package old\n");
    const same = PLAN.find((f) => f.path === "envoywasm.yaml")!;
    await writeFile(path.join(tmp, "envoywasm.yaml"), same.contents);
    await writeFile(path.join(tmp, "mine.txt"), "my own notes\n");
    await writeFile(path.join(tmp, "plugin", "helper.go"), "package main // mine\n");
    const before = await stat(path.join(tmp, "plugin", "main.go"));

    const report = await writePlan(tmp, PLAN, true);
    expect(report.kept).toEqual(["plugin/main.go"]);
    expect(report.unchanged).toEqual(["envoywasm.yaml"]);
    expect(report.created.sort()).toEqual([".gitignore", "plugin/deep/nested/file.txt"]);
    expect(await snapshot(tmp)).toEqual({
      ...Object.fromEntries(PLAN.map((f) => [f.path, f.contents])),
      "plugin/main.go": "package old\n",
      "mine.txt": "my own notes\n",
      "plugin/helper.go": "package main // mine\n",
    });
    expect((await stat(path.join(tmp, "plugin", "main.go"))).mtimeMs).toBe(before.mtimeMs);
  });

  it("refuses a planned path that is an existing folder before writing anything", async () => {
    await writeFile(path.join(tmp, "mine.txt"), "my own notes\n");
    // .gitignore sorts before plugin/main.go: it must not be written either.
    await mkdir(path.join(tmp, "plugin", "main.go"), { recursive: true });
    const e = await rejection(writePlan(tmp, PLAN, true));
    expect(e.message).toBe(`${path.join(tmp, "plugin", "main.go")} exists and is not a regular file`);
    expect(e.exitCode).toBe(1);
    expect(await snapshot(tmp)).toEqual({ "mine.txt": "my own notes\n" });
    expect((await readdir(tmp)).sort()).toEqual(["mine.txt", "plugin"]);
  });

  it("refuses a planned path under an existing regular file before writing anything", async () => {
    await writeFile(path.join(tmp, "envoywasm.yaml"), "name: mine\n");
    await writeFile(path.join(tmp, "plugin"), "a file where the plugin folder goes\n");
    const e = await rejection(writePlan(tmp, PLAN, true));
    expect(e.message).toContain(path.join(tmp, "plugin"));
    expect(await snapshot(tmp)).toEqual({
      "envoywasm.yaml": "name: mine\n",
      plugin: "a file where the plugin folder goes\n",
    });
  });

  it("leaves no temporary files behind", async () => {
    await writePlan(tmp, PLAN, false);
    const all = await readdir(tmp, { recursive: true });
    expect(all.filter((p) => p.endsWith(".tmp"))).toEqual([]);
  });
});

describe("writeFileAtomic", () => {
  it("replaces a file's contents and applies the mode", async () => {
    const target = path.join(tmp, "out.sh");
    await writeFile(target, "old");
    await writeFileAtomic(target, "#!/bin/sh\n", 0o755);
    expect(await readFile(target, "utf8")).toBe("#!/bin/sh\n");
    expect((await stat(target)).mode & 0o777).toBe(0o755 & ~process.umask());
    expect(await readdir(tmp)).toEqual(["out.sh"]);
  });

  it("cleans up its temporary file when it fails", async () => {
    // renaming a file over a non-empty folder fails
    const target = path.join(tmp, "dir");
    await mkdir(path.join(target, "inner"), { recursive: true });
    await expect(writeFileAtomic(target, "x")).rejects.toThrow();
    expect(await readdir(tmp)).toEqual(["dir"]);
  });
});
