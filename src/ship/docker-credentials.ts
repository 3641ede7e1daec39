import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { UserError } from "../errors.js";
import { run } from "../platform/exec.js";

/**
 * Registry credentials, found where `docker login` put them: a credential
 * helper (credHelpers[registry], else credsStore) run as
 * `docker-credential-<name> get` with the registry on stdin, else
 * auths[registry] in $DOCKER_CONFIG/config.json (default ~/.docker). The
 * secret goes to the engine only; `source` says where it came from without it.
 */

export interface RegistryAuth {
  serveraddress: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

export interface FoundAuth {
  auth: RegistryAuth | undefined;
  /** Where the credentials came from (never the credentials): for messages. */
  source: string;
}

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

export function dockerConfigFile(): string {
  const dir = process.env.DOCKER_CONFIG !== undefined && process.env.DOCKER_CONFIG !== "" ? process.env.DOCKER_CONFIG : path.join(os.homedir(), ".docker");
  return path.join(dir, "config.json");
}

export async function registryAuth(server: string): Promise<FoundAuth> {
  const file = dockerConfigFile();
  let config: DockerConfig;
  try {
    const parsed: unknown = JSON.parse(await readFile(file, "utf8"));
    config = parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as DockerConfig) : {};
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { auth: undefined, source: `no Docker config (${file})` };
    throw new UserError(`cannot read Docker's config ${file}: ${(error as Error).message.split("\n")[0]}`, {
      hint: "fix or remove it (`docker login` rewrites it), or point DOCKER_CONFIG at another folder",
    });
  }
  const host = hostOf(server);
  const helper = Object.entries(config.credHelpers ?? {}).find(([key]) => hostOf(key) === host)?.[1] ?? config.credsStore;
  if (helper !== undefined && helper !== "") {
    const fromHelper = await helperGet(helper, server);
    if (fromHelper !== undefined) return { auth: fromHelper, source: `credential helper docker-credential-${helper}` };
  }
  const entry = Object.entries(config.auths ?? {}).find(([key]) => hostOf(key) === host)?.[1];
  const auth = entry === undefined ? undefined : fromConfigEntry(entry, server);
  if (auth !== undefined) return { auth, source: `auths in ${file}` };
  return { auth: undefined, source: `no credentials for ${server} in ${file}` };
}

function fromConfigEntry(entry: NonNullable<DockerConfig["auths"]>[string], server: string): RegistryAuth | undefined {
  if (typeof entry.identitytoken === "string" && entry.identitytoken !== "") return { serveraddress: server, identitytoken: entry.identitytoken };
  if (typeof entry.auth === "string" && entry.auth !== "") {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0)
      throw new UserError(`the saved login for ${server} in ${dockerConfigFile()} is not user:password`, { hint: `log in again: docker login ${server}` });
    return { serveraddress: server, username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (typeof entry.username === "string" && typeof entry.password === "string")
    return { serveraddress: server, username: entry.username, password: entry.password };
  return undefined;
}

/** Runs `docker-credential-<name> get`; undefined when it has nothing for this registry. */
async function helperGet(name: string, server: string): Promise<RegistryAuth | undefined> {
  const program = `docker-credential-${name}`;
  const result = await run(program, ["get"], { input: server, timeoutMs: 60_000 });
  if (result.spawnError !== undefined) {
    throw new UserError(
      `Docker's config (${dockerConfigFile()}) names the credential helper ${name}, but ${program} cannot be run (${result.spawnError.code ?? result.spawnError.message})`,
      {
        hint: `install ${program} or put it on PATH, or remove credsStore/credHelpers from that file and \`docker login\` again`,
      },
    );
  }
  // The helpers say "credentials not found in native keychain" when they have none.
  if (result.exitCode !== 0) {
    if (/not found/i.test(result.stdout + result.stderr)) return undefined;
    throw new UserError(
      `${program} get failed for ${server} (exit ${result.exitCode ?? "by a signal"})${result.stderr.trim() === "" ? "" : `: ${result.stderr.trim().split("\n")[0]}`}`,
      {
        hint: `check the helper (\`echo ${server} | ${program} get\`), or \`docker login ${server}\` again`,
      },
    );
  }
  let parsed: { Username?: unknown; Secret?: unknown };
  try {
    parsed = JSON.parse(result.stdout) as typeof parsed;
  } catch {
    // Not its output: never echo it, it may hold the secret.
    throw new UserError(`${program} get answered something that is not JSON`, { hint: `check the helper: \`echo ${server} | ${program} get\`` });
  }
  if (typeof parsed.Secret !== "string" || parsed.Secret === "") return undefined;
  // A helper stores an identity token under the user name "<token>".
  if (parsed.Username === "<token>") return { serveraddress: server, identitytoken: parsed.Secret };
  return { serveraddress: server, username: typeof parsed.Username === "string" ? parsed.Username : "", password: parsed.Secret };
}

/** Docker's config keys registries with or without a scheme and path ("https://index.docker.io/v1/"). */
function hostOf(key: string): string {
  const host = key
    .replace(/^[a-z]+:\/\//i, "")
    .split("/")[0]!
    .toLowerCase();
  return host === "docker.io" || host === "registry-1.docker.io" ? "index.docker.io" : host;
}
