import path from "node:path";
import { UsageError, UserError } from "../errors.js";
import { loadProject, type Project } from "../project/config.js";
import { credentialsServer, parseImageRef } from "./image-ref.js";
import { recordPush, type ShipRecord } from "./ship-record.js";
import { LABEL_MODULE_SHA256, LABEL_PLUGIN, WASM_VARIANT_ANNOTATION } from "./wasm-image.js";

export interface PushOptions {
  cwd: string;
  /** The local image to push, as `package` tagged it. */
  ref: string;
  project?: Project;
  onProgress?: (text: string) => void;
  /** Where the credentials came from (never the credentials). */
  onCredentials?: (source: string) => void;
}

export interface PushResult extends ShipRecord {
  plugin: string;
  /** .envoywasm/ship.json, where the push is recorded for `export`. */
  recordedIn: string;
}

/**
 * Pushes an image made by `envoywasm package` to its registry, with the
 * credentials `docker login` saved, and records the manifest digest the
 * registry stored in .envoywasm/ship.json.
 */
export async function push(options: PushOptions): Promise<PushResult> {
  const project = options.project ?? (await loadProject(options.cwd));
  const ref = parseImageRef(options.ref, "the image");
  if (ref.digest !== undefined) throw new UsageError(`push ${options.ref}: name the image by its tag, not by a digest`);
  const tag = ref.tag ?? "latest";
  const local = `${ref.name}:${tag}`;

  const { connectDocker } = await import("../platform/docker.js");
  const docker = await connectDocker();
  const info = await docker
    .getImage(local)
    .inspect()
    .catch((error: { statusCode?: number; message?: string }) => {
      if (error.statusCode === 404) {
        throw new UserError(`there is no local image ${local}`, {
          hint: `make it with \`envoywasm package --tag ${local}\` (or \`docker tag\` the image \`envoywasm package\` printed), then push again`,
        });
      }
      throw new UserError(`the Docker engine could not inspect ${local}: ${error.message ?? String(error)}`);
    });
  const labels = info.Config?.Labels ?? {};
  const moduleSha256 = labels[LABEL_MODULE_SHA256];
  const plugin = labels[LABEL_PLUGIN];
  if (labels[WASM_VARIANT_ANNOTATION] !== "compat" || moduleSha256 === undefined || plugin === undefined) {
    throw new UserError(`${local} was not made by \`envoywasm package\` (it has no ${WASM_VARIANT_ANNOTATION}=compat and ${LABEL_MODULE_SHA256} labels)`, {
      hint: "package the plugin with `envoywasm package --tag <ref>` and push that image",
    });
  }
  const dir = project.config.plugins.find((p) => path.posix.normalize(p) === path.posix.normalize(plugin));
  if (dir === undefined) {
    throw new UserError(`${local} holds plugin folder ${plugin}, which is not one of this project's (${project.config.plugins.join(", ")})`, {
      hint: "push from the project that packaged it",
    });
  }

  const { registryAuth } = await import("./docker-credentials.js");
  const found = await registryAuth(credentialsServer(ref));
  options.onCredentials?.(found.source);
  const { pushImage } = await import("./engine-push.js");
  const { digest } = await pushImage(docker, ref, tag, found.auth, options.onProgress);
  const record: ShipRecord = { image: local, digest, moduleSha256, pushedAt: new Date().toISOString() };
  const recordedIn = await recordPush(project, dir, record);
  return { ...record, plugin: dir, recordedIn };
}
