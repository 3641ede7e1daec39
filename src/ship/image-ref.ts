import { UsageError } from "../errors.js";

/**
 * An image reference as Docker reads one (distribution's reference grammar):
 * [registry/]path[:tag][@sha256:digest]. The registry is the first component
 * when it holds a dot or a colon or is `localhost`; otherwise it is Docker Hub.
 */

export interface ImageRef {
  /** As the user wrote it. */
  text: string;
  /** registry host[:port]; undefined for Docker Hub written without one. */
  registry: string | undefined;
  /** The repository with its registry, as the engine names it (no tag, no digest). */
  name: string;
  tag: string | undefined;
  digest: string | undefined;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::\d+)?$|^\[[0-9a-fA-F:.]+\](?::\d+)?$/;

export function parseImageRef(text: string, flag = "image reference"): ImageRef {
  const bad = (why: string) =>
    new UsageError(`${flag} ${JSON.stringify(text)} is not a valid image reference: ${why}`, {
      hint: "write it as [registry/]repository[:tag], e.g. ghcr.io/acme/my-plugin:v1 or 127.0.0.1:5000/my-plugin:dev",
    });
  let rest = text.trim();
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad("the digest must be sha256: and 64 lowercase hex digits");
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad("a tag is letters, digits, _ . and -, at most 128, not starting with . or -");
  }
  const parts = rest.split("/");
  let registry: string | undefined;
  if (parts.length > 1 && (parts[0]!.includes(".") || parts[0]!.includes(":") || parts[0] === "localhost")) {
    registry = parts.shift()!;
    if (!DOMAIN.test(registry)) throw bad(`${JSON.stringify(registry)} is not a registry host[:port]`);
  } else if (parts.length > 1 && /[A-Z]/.test(parts[0]!)) {
    throw bad("repository names are lowercase");
  }
  if (parts.length === 0 || parts.some((p) => !COMPONENT.test(p))) {
    throw bad("each path component is lowercase letters and digits, separated by . _ __ or -");
  }
  const name = [...(registry === undefined ? [] : [registry]), ...parts].join("/");
  if (name.length > 255) throw bad("the name is longer than 255 characters");
  return { text, registry, name, tag, digest };
}

/** name:tag, or name@digest; a bare name means :latest, as Docker reads it. */
export function canonicalRef(ref: ImageRef): string {
  if (ref.digest !== undefined) return `${ref.name}${ref.tag === undefined ? "" : `:${ref.tag}`}@${ref.digest}`;
  return `${ref.name}:${ref.tag ?? "latest"}`;
}

const HUB = "https://index.docker.io/v1/";

/** The server address Docker's config and credential helpers file this registry under. */
export function credentialsServer(ref: ImageRef): string {
  if (ref.registry === undefined || ref.registry === "docker.io" || ref.registry === "index.docker.io" || ref.registry === "registry-1.docker.io") return HUB;
  return ref.registry;
}
