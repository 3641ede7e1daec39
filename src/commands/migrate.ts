import { migrate } from "../scaffold/migrate.js";
import { ui } from "../ui/output.js";

export async function runMigrate(opts: { json?: boolean }, globals: { cwd: string }): Promise<void> {
  const { changes } = await migrate(globals.cwd);
  if (opts.json === true) return ui.resultJson({ changes });
  if (changes.length === 0) ui.success("nothing to migrate: envoywasm.yaml is as this version reads it");
  else ui.success("migrated");
  for (const change of changes) ui.result(`  ${change}`);
}
