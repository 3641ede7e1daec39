import { Readable } from "node:stream";
import type Docker from "dockerode";
import { UserError } from "../errors.js";
import { tarFiles } from "./tar.js";
import { dockerfile, WASM_FILE } from "./wasm-image.js";

/**
 * Builds the module's image in the Docker engine. The build context (a
 * Dockerfile and plugin.wasm) is a tar made in memory, so nothing is written
 * into the project.
 */

interface BuildEvent {
  stream?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string };
}

export async function buildWasmImage(
  docker: Docker,
  wasm: Uint8Array,
  tag: string,
  labels: Record<string, string>,
  onLine?: (line: string) => void,
): Promise<{ imageId: string }> {
  const context = await tarFiles([
    { name: "Dockerfile", data: Buffer.from(dockerfile(labels)) },
    { name: WASM_FILE, data: wasm },
  ]);
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.buildImage(Readable.from([context]), { t: tag, rm: true, forcerm: true });
  } catch (error) {
    throw new UserError(`the Docker engine refused to build ${tag}: ${firstLine(error)}`);
  }
  const events = await new Promise<BuildEvent[]>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (error: Error | null, output: BuildEvent[]) => (error === null ? resolve(output) : reject(error)),
      (event: BuildEvent) => {
        const line = event.stream?.trim();
        if (line !== undefined && line !== "") onLine?.(line);
      },
    );
  }).catch((error: unknown) => {
    throw new UserError(`building ${tag} in the Docker engine failed: ${firstLine(error)}`);
  });
  const failed = events.find((e) => e.error !== undefined || e.errorDetail !== undefined);
  if (failed !== undefined) {
    throw new UserError(`building ${tag} in the Docker engine failed: ${(failed.errorDetail?.message ?? failed.error ?? "").split("\n")[0]}`);
  }
  const imageId = events.map((e) => e.aux?.ID).find((id) => id !== undefined) ?? (await docker.getImage(tag).inspect()).Id;
  return { imageId };
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
}
