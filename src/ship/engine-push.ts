import type Docker from "dockerode";
import { UserError } from "../errors.js";
import type { RegistryAuth } from "./docker-credentials.js";
import type { ImageRef } from "./image-ref.js";

/**
 * Pushes a local image through the Docker engine and returns the digest of
 * the manifest the registry stored. The engine converts the image to its own
 * manifest format on the way, so that digest exists only after the push: it
 * is read from the push stream (aux.Digest), never computed here.
 */

interface PushEvent {
  id?: string;
  status?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string };
  aux?: { Tag?: string; Digest?: string; Size?: number };
}

export async function pushImage(
  docker: Docker,
  ref: ImageRef,
  tag: string,
  auth: RegistryAuth | undefined,
  onProgress?: (text: string) => void,
): Promise<{ digest: string }> {
  const where = `${ref.name}:${tag}`;
  let stream: NodeJS.ReadableStream;
  try {
    // The engine wants an X-Registry-Auth header even for anonymous pushes: {} is "no credentials".
    stream = await docker.getImage(ref.name).push({ tag, authconfig: (auth ?? {}) as Docker.AuthConfig });
  } catch (error) {
    throw pushError(where, ref, (error as Error).message, auth !== undefined);
  }
  const layers = new Map<string, { current: number; total: number; done: boolean; status: string }>();
  const events = await new Promise<PushEvent[]>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (error: Error | null, output: PushEvent[]) => (error === null ? resolve(output) : reject(error)),
      (event: PushEvent) => {
        if (event.id === undefined || event.status === undefined || event.error !== undefined) return;
        const layer = layers.get(event.id) ?? { current: 0, total: 0, done: false, status: "" };
        if (event.progressDetail?.total !== undefined) layer.total = event.progressDetail.total;
        if (event.progressDetail?.current !== undefined) layer.current = event.progressDetail.current;
        if (/^(pushed|layer already exists|mounted from)/i.test(event.status)) layer.done = true;
        layers.set(event.id, layer);
        // One line per change of a layer's state, not per chunk: plain logs stay short.
        if (layer.status === event.status) return;
        layer.status = event.status;
        const all = [...layers.values()];
        const kb = (n: number) => (n / 1024).toFixed(0);
        const total = all.reduce((s, l) => s + l.total, 0);
        // The engine counts the compressed bytes it sends against the layer's size, which a module that does not compress exceeds.
        const sent = all.reduce((s, l) => s + Math.min(l.current, l.total), 0);
        const bytes = total > 0 ? `, ${kb(sent)} of ${kb(total)} KiB` : "";
        onProgress?.(`pushing ${where}: ${all.filter((l) => l.done).length}/${all.length} layers${bytes}`);
      },
    );
  }).catch((error: unknown) => {
    throw pushError(where, ref, (error as Error).message, auth !== undefined);
  });
  const failed = events.find((e) => e.error !== undefined || e.errorDetail !== undefined);
  if (failed !== undefined) throw pushError(where, ref, failed.errorDetail?.message ?? failed.error ?? "", auth !== undefined);
  const digest = events.map((e) => e.aux?.Digest).find((d) => d !== undefined);
  if (digest === undefined || !/^sha256:[a-f0-9]{64}$/.test(digest)) {
    throw new UserError(`the Docker engine pushed ${where} but did not report the manifest digest`, {
      hint: `look it up with \`docker buildx imagetools inspect ${where}\` (or your registry's UI) and pass it to export with --sha256`,
    });
  }
  return { digest };
}

/**
 * What the engine's push error means. Reachability first: its message names the registry's address,
 * whose port may hold "401" or "403" (a closed port 40359 was once told as a refused login).
 */
export function pushError(where: string, ref: ImageRef, message: string, hadCredentials: boolean): UserError {
  const first = message.split("\n")[0]?.trim() ?? "";
  const registry = ref.registry ?? "docker.io";
  if (
    /connection refused|no such host|dial tcp|i\/o timeout|timeout|network is unreachable|server gave HTTP response to HTTPS client|certificate|tls/i.test(
      first,
    )
  ) {
    return new UserError(`cannot reach the registry ${registry} to push ${where}: ${first}`, {
      hint: /HTTPS client|certificate|tls/i.test(first)
        ? `the registry speaks plain HTTP or has an untrusted certificate: add it to the engine's "insecure-registries" (127.0.0.1 registries need nothing)`
        : "check the registry's address and that it is running and reachable from the Docker engine",
    });
  }
  if (/unauthorized|authentication required|denied|no basic auth credentials|forbidden|\b40[13]\b/i.test(first)) {
    return new UserError(`${registry} refused the push of ${where}: ${first}`, {
      hint: hadCredentials
        ? `the saved login was refused or may not push to ${ref.name}: \`docker login ${registry}\` again, and check the repository's permissions`
        : `log in first: \`docker login ${registry}\` (envoywasm reads the credentials it saves)`,
    });
  }
  return new UserError(`pushing ${where} failed: ${first}`);
}
