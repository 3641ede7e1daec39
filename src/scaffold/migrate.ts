import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { isMap, isScalar, LineCounter, parseDocument, stringify, type Range } from "yaml";
import { UserError } from "../errors.js";
import { loadProject } from "../project/config.js";
import type { TryRequest } from "../project/config-schema.js";
import { writeFileAtomic } from "../platform/files.js";
import { CASES_DIR } from "../project/paths.js";

/**
 * `envoywasm migrate`: a project file brought to what this version reads.
 * Today one step: envoywasm.yaml's `try:` requests become e2e cases in
 * e2e/try.yaml (the cases are where `up` takes its suggestions from, and
 * `envoywasm test` runs them), and `try:` leaves envoywasm.yaml.
 */

export interface MigrateResult {
  /** One line per file changed, as `+ file: …` or `~ file: …`. */
  changes: string[];
}

export async function migrate(cwd: string): Promise<MigrateResult> {
  const project = await loadProject(cwd);
  const tries = project.config.try;
  if (tries === undefined || tries === null) return { changes: [] };
  const file = path.basename(project.file);
  const target = `${CASES_DIR}/try.yaml`;
  const casesFile = path.join(project.root, target);
  if (tries.length > 0) {
    await mkdir(path.dirname(casesFile), { recursive: true });
    try {
      await writeFile(casesFile, tryCasesText(tries, file), { flag: "wx" });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      throw new UserError(`${target} is there already: ${file}'s try: requests would replace it`, {
        hint: `rename ${target}, then run \`envoywasm migrate\` again`,
      });
    }
  }
  await writeFileAtomic(project.file, withoutKey(await readFile(project.file, "utf8"), "try"));
  const n = tries.length;
  const changes = [`~ ${file}: removed try:`];
  if (n > 0) changes.unshift(`+ ${target}: ${n} case${n === 1 ? "" : "s"}, one per try: request (add to each what it must answer, under expect:)`);
  return { changes };
}

/** try: requests as a case file: same requests, no expectations yet (try: had none). */
export function tryCasesText(tries: readonly TryRequest[], from: string): string {
  const cases = tries.map((t) => ({
    name: `${t.method ?? "GET"} ${t.path}`,
    // stringify leaves out a key whose value is undefined.
    request: { method: t.method ?? undefined, path: t.path, headers: t.headers ?? undefined },
    expect: {},
  }));
  return (
    `# Moved here from ${from}'s try: by \`envoywasm migrate\`. \`envoywasm up\` suggests the\n` +
    "# first cases' requests; `envoywasm test` sends each and checks what expect: says\n" +
    "# (e.g. status: 200), so say there what each must answer (docs/e2e.md).\n" +
    stringify({ cases }, { lineWidth: 0 })
  );
}

/** The text without a top-level key's lines and the comment lines just above it; the rest as it was. */
function withoutKey(text: string, key: string): string {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  const pair = isMap(doc.contents) ? doc.contents.items.find((item) => isScalar(item.key) && item.key.value === key) : undefined;
  const start = (pair?.key as { range?: Range } | undefined)?.range?.[0];
  const end = (pair?.value as { range?: Range } | undefined)?.range?.[1];
  if (start === undefined || end === undefined) return text;
  const lines = text.split("\n");
  let first = lineCounter.linePos(start).line - 1;
  const last = lineCounter.linePos(Math.max(start, end - 1)).line - 1;
  while (first > 0 && /^#/.test(lines[first - 1]!)) first--;
  lines.splice(first, last - first + 1);
  // A blank line that separated the key from what was above goes with it when nothing follows.
  if (first > 0 && lines[first - 1] === "" && (lines[first] ?? "") === "" && first >= lines.length - 1) lines.splice(first - 1, 1);
  return lines.join("\n");
}
