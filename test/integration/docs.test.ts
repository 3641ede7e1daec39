import { execa } from "execa";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BIN, freePorts, REPO, removeTempDirs, runCli, tempDir } from "../helpers/cli.js";
import { expectAllStopped } from "../helpers/run.js";

/**
 * The docs are kept true by running them. A block fenced as ```sh test is
 * run; a plain ```sh block is only shown (what cannot end, like `up --watch`,
 * or needs what a test does not have, like a registry login). The `sh test`
 * blocks of one page run in order as one bash script (set -euo pipefail) in a
 * throwaway folder, with `envoywasm` on PATH as this checkout's CLI and
 * LISTENER_PORT/ADMIN_PORT/BACKEND_PORT set to ports no other test uses.
 */

afterAll(removeTempDirs);

const PAGES = [
  "README.md",
  "CONTRIBUTING.md",
  ...readdirSync(path.join(REPO, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`),
];

/** The info strings a fenced block may have; anything else is likely a typo that would silently skip a test. */
const KNOWN_INFO = new Set(["", "sh", "sh test", "yaml", "json", "text", "go"]);

interface Block {
  info: string;
  code: string;
  /** 1-based lines of the opening and the closing fence. */
  line: number;
  end: number;
}

/** Fenced code blocks (CommonMark: ``` or ~~~, closed by the same character at least as long). */
function fencedBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split("\n");
  let open: { char: string; length: number; block: Block; body: string[] } | undefined;
  lines.forEach((text, i) => {
    if (open === undefined) {
      const m = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(text);
      if (m === null) return;
      const info = m[2]!.trim();
      if (m[1]![0] === "`" && info.includes("`")) return; // an inline code span, not a fence
      open = { char: m[1]![0]!, length: m[1]!.length, block: { info, code: "", line: i + 1, end: i + 1 }, body: [] };
      return;
    }
    const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(text);
    if (close !== null && close[1]![0] === open.char && close[1]!.length >= open.length) {
      blocks.push({ ...open.block, code: open.body.join("\n"), end: i + 1 });
      open = undefined;
    } else {
      open.body.push(text);
    }
  });
  if (open !== undefined) throw new Error(`a fenced block opened at line ${open.block.line} is never closed`);
  return blocks;
}

/** One bash script of a page's `sh test` blocks; it names the block it failed in. */
function pageScript(page: string, blocks: Block[]): string {
  return [
    "set -euo pipefail",
    "PS4='+ '",
    `trap '{ code=$?; set +x; } 2>/dev/null; [ "$code" -eq 0 ] || echo "doc test: failed in $DOC_BLOCK (exit $code)" >&2' EXIT`,
    ...blocks.flatMap((b) => [`DOC_BLOCK=${JSON.stringify(`${page}:${b.line}`)}`, "set -x", b.code, "{ set +x; } 2>/dev/null"]),
    "",
  ].join("\n");
}

function readPage(page: string): string {
  return readFileSync(path.join(REPO, page), "utf8");
}

/** A bin folder whose `envoywasm` is this checkout's CLI. */
async function cliOnPath(): Promise<string> {
  const bin = await tempDir("envoywasm-docs-bin-");
  await writeFile(path.join(bin, "envoywasm"), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} "$@"\n`, { mode: 0o755 });
  return bin;
}

async function runScript(script: string, env: Record<string, string> = {}) {
  const bin = await cliOnPath();
  const work = await tempDir("envoywasm-docs-");
  const file = path.join(bin, "page.sh");
  await writeFile(file, script);
  const result = await execa("bash", ["--noprofile", "--norc", file], {
    cwd: work,
    env: { NO_COLOR: "1", ...env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}` },
    all: true,
    reject: false,
    timeout: 240_000,
  });
  return { work, exitCode: result.exitCode, output: String(result.all ?? "") };
}

/** Project folders (with an envoywasm.yaml) at most two levels below dir. */
function projectsUnder(dir: string, depth = 2): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith(".")) continue;
    const sub = path.join(dir, entry.name);
    if (existsSync(path.join(sub, "envoywasm.yaml"))) found.push(sub);
    if (depth > 1) found.push(...projectsUnder(sub, depth - 1));
  }
  return found;
}

const tail = (text: string, n = 80) => text.trimEnd().split("\n").slice(-n).join("\n");

describe("the shell examples of the README and docs/ run as written", () => {
  it("every fenced block has a known info string (```sh test runs, ```sh is shown only)", () => {
    const unknown = PAGES.flatMap((page) =>
      fencedBlocks(readPage(page))
        .filter((b) => !KNOWN_INFO.has(b.info))
        .map((b) => `${page}:${b.line}: \`\`\`${b.info}`),
    );
    expect(unknown).toEqual([]);
    // The README's walkthrough is run: if its blocks lost their mark, nothing would be.
    expect(fencedBlocks(readPage("README.md")).filter((b) => b.info === "sh test").length).toBeGreaterThan(3);
  });

  it("a page's script stops at its first failing command, and says in which block", async () => {
    const page = "a page\n\n```sh test\necho one\n```\n\n```sh test\necho two | grep -q three | cat\necho never\n```\n";
    const r = await runScript(
      pageScript(
        "page.md",
        fencedBlocks(page).filter((b) => b.info === "sh test"),
      ),
    );
    expect(r.exitCode).not.toBe(0);
    expect(r.output).toContain("one");
    expect(r.output).toContain("doc test: failed in page.md:7");
    expect(r.output).not.toContain("never");
    const unset = await runScript(pageScript("page.md", [{ info: "sh test", code: 'echo "$NOT_SET_ANYWHERE"', line: 1, end: 3 }]));
    expect(unset.exitCode).not.toBe(0);
  });

  for (const page of PAGES) {
    const blocks = fencedBlocks(readPage(page)).filter((b) => b.info === "sh test");
    if (blocks.length === 0) continue;
    it(`${page}: its ${blocks.length} \`sh test\` block(s) run in order, exit 0, and leave nothing running`, async () => {
      const [listener, admin, backend] = await freePorts(3);
      const ports = [listener!, admin!, backend!];
      const r = await runScript(pageScript(page, blocks), {
        LISTENER_PORT: String(listener),
        ADMIN_PORT: String(admin),
        BACKEND_PORT: String(backend),
      });
      // Whatever the page left running is stopped before anything is asserted.
      const leftRunning: string[] = [];
      const projects = projectsUnder(r.work);
      for (const dir of projects) {
        if (existsSync(path.join(dir, ".envoywasm/state.json")) || existsSync(path.join(dir, ".envoywasm/run.lock"))) {
          leftRunning.push(path.relative(r.work, dir));
          await runCli(["down"], { cwd: dir });
        }
      }
      expect(r.exitCode, tail(r.output)).toBe(0);
      expect(leftRunning, `${page} starts a run it does not stop: end it with \`envoywasm down\``).toEqual([]);
      for (const dir of projects) await expectAllStopped(dir, ports);
    }, 300_000);
  }
});

describe("the README and docs/ hold together", () => {
  it("the README stays a pitch: at most 15,000 bytes", () => {
    expect(statSync(path.join(REPO, "README.md")).size).toBeLessThanOrEqual(15_000);
  });

  it("CI runs exactly the README's test command", () => {
    const command = "npm ci && npm test";
    expect(fencedBlocks(readPage("README.md")).some((b) => b.code.trim() === command)).toBe(true);
    expect(
      readPage(".ci/run")
        .split("\n")
        .map((l) => l.trim()),
    ).toContain(command);
  });

  it("every relative link points to a file of the checkout, and every #anchor to a heading", () => {
    const broken: string[] = [];
    for (const page of PAGES) {
      for (const { target, line } of links(readPage(page))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
        const [file, anchor] = target.split("#", 2) as [string, string | undefined];
        const resolved = file === "" ? path.join(REPO, page) : path.resolve(path.dirname(path.join(REPO, page)), decodeURIComponent(file));
        const where = `${page}:${line}: ${target}`;
        if (path.relative(REPO, resolved).startsWith("..") || !existsSync(resolved)) {
          broken.push(`${where} (no such file)`);
        } else if (anchor !== undefined && anchor !== "") {
          if (!resolved.endsWith(".md")) broken.push(`${where} (an anchor into a file that is not Markdown)`);
          else if (!headingSlugs(readFileSync(resolved, "utf8")).has(anchor)) broken.push(`${where} (no such heading)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});

/** Lines outside fenced blocks, with their 1-based numbers. */
function prose(markdown: string): { text: string; line: number }[] {
  const inBlock = new Set<number>();
  const lines = markdown.split("\n");
  for (const b of fencedBlocks(markdown)) {
    for (let i = b.line; i <= b.end; i++) inBlock.add(i);
  }
  return lines.map((text, i) => ({ text, line: i + 1 })).filter((l) => !inBlock.has(l.line));
}

describe("the README's one command", () => {
  it("`npm run demo` goes end to end: a project, a request and its plugin line, a change reloaded in place, down", async () => {
    const r = await execa(process.execPath, [path.join(REPO, "scripts", "demo.mjs")], { cwd: REPO, env: { NO_COLOR: "1" }, reject: false, timeout: 300_000 });
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain("changed while running");
    expect(`${r.stdout}${r.stderr}`).toContain("stopped backend, envoy");
  }, 320_000);
});

/** Inline links and images, outside code. */
function links(markdown: string): { target: string; line: number }[] {
  const found: { target: string; line: number }[] = [];
  for (const { text, line } of prose(markdown)) {
    const withoutCode = text.replace(/(`+)[^`]*?\1/g, "");
    for (const m of withoutCode.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) found.push({ target: m[1]!, line });
  }
  return found;
}

/** The anchors GitHub gives a page's headings. */
function headingSlugs(markdown: string): Set<string> {
  const slugs = new Set<string>();
  const seen = new Map<string, number>();
  for (const { text } of prose(markdown)) {
    const m = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
    if (m === null) continue;
    const base = m[1]!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    slugs.add(n === 0 ? base : `${base}-${n}`);
  }
  return slugs;
}
