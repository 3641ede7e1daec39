import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseDocument, stringify } from "yaml";
import { UserError } from "../errors.js";
import { loadProject } from "../project/config.js";
import type { TryRequest } from "../project/config-schema.js";
import { writeFileAtomic } from "../platform/files.js";
import { CASES_DIR } from "../run/e2e/cases.js";

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
  const doc = parseDocument(await readFile(project.file, "utf8"));
  doc.delete("try");
  await writeFileAtomic(project.file, doc.toString());
  const n = tries.length;
  return {
    changes: [
      ...(n === 0 ? [] : [`+ ${target}: ${n} case${n === 1 ? "" : "s"}, one per try: request (add to each what it must answer, under expect:)`]),
      `~ ${file}: removed try:`,
    ],
  };
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
