import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import type Docker from "dockerode";
import { UserError } from "../errors.js";
import { cacheHome } from "../platform/cache.js";
import { runOnce } from "../platform/docker.js";
import { writeFileAtomic } from "../platform/files.js";
import { parseEnvoyVersion } from "./binary.js";

type ImageMemo = Record<string, string>;

/** The Envoy version an image carries (`envoy --version` in it), remembered per image id. */
export async function imageEnvoyVersion(docker: Docker, image: string): Promise<string> {
  const info = await docker.getImage(image).inspect();
  const memoFile = path.join(cacheHome(), "docker-images.json");
  let memo: ImageMemo = {};
  try {
    const parsed: unknown = JSON.parse(await readFile(memoFile, "utf8"));
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) memo = parsed as ImageMemo;
  } catch {
    // nothing remembered
  }
  const known = memo[info.Id];
  if (typeof known === "string") return known;
  const result = await runOnce(docker, image, ["envoy", "--version"]);
  const version = parseEnvoyVersion(result.output);
  if (result.code !== 0 || version === undefined) {
    throw new UserError(`${image} does not run \`envoy --version\`: ${result.output.trim().split("\n")[0] ?? `exit ${result.code}`}`, {
      hint: "use an Envoy image (envoyproxy/envoy) with --envoy-image or envoy.image in envoywasm.yaml",
    });
  }
  memo[info.Id] = version;
  await mkdir(path.dirname(memoFile), { recursive: true }).catch(() => {});
  await writeFileAtomic(memoFile, JSON.stringify(memo, null, 2)).catch(() => {});
  return version;
}
