import { createHash } from "node:crypto";
import { UsageError } from "../errors.js";

export const SHA256_HEX = /^[a-f0-9]{64}$/;

export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * A sha256 given on the command line, as the manifests need it: 64 lowercase
 * hex digits. A leading "sha256:" (as docker prints digests) is dropped.
 * Istio's CRD checks this pattern; Envoy Gateway's does not, and a wrong value
 * only shows up when the gateway fails to load the module, so it is checked here.
 */
export function parseSha256(value: string, flag: string): string {
  const hex = value.trim().replace(/^sha256:/, "");
  if (!SHA256_HEX.test(hex)) {
    throw new UsageError(`${flag} ${JSON.stringify(value)} is not a sha256: it must be 64 lowercase hex digits (optionally after "sha256:")`);
  }
  return hex;
}
