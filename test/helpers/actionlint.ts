import { existsSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { REPO } from "./cli.js";

const VERSION = "v1.7.12";

/**
 * actionlint (GitHub Actions workflows), built from its Go module once into
 * the checkout's .test-cache (a folder per version), never the user's home.
 */
export async function actionlint(): Promise<string> {
  const dir = path.join(REPO, ".test-cache", `actionlint-${VERSION}`);
  const bin = path.join(dir, "actionlint");
  if (!existsSync(bin)) await execa("go", ["install", `github.com/rhysd/actionlint/cmd/actionlint@${VERSION}`], { env: { GOBIN: dir }, timeout: 300_000 });
  return bin;
}
