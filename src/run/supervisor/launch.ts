/**
 * How `up -d`'s background supervisor process is started: its Node flags and
 * its environment (bin/envoywasm.js `__supervise`; the benchmark starts its
 * Node baselines the same way).
 *
 * Flags: gc() after each reload (run/live.ts), and a small young generation,
 * which a stream of plugin lines under load grows (measured under load and
 * after two reloads, semi-space 16/4/2/1 MiB: 67/67/64/62 MiB; a
 * 200,000-line burst took 1.0/1.0/1.2/1.4× as long: 2 is the middle).
 */
export const SUPERVISOR_NODE_FLAGS = ["--expose-gc", "--max-semi-space-size=2"];

/**
 * The environment of the background supervisor: the one `up` was given,
 * with a few settings for the supervisor's own Node process, which stays up
 * for the whole run. What was changed is recorded in the environment itself
 * (MARK), so every program the supervisor starts (Envoy, the backend, the
 * process that prepares a reload) gets the environment `up` was given.
 *
 * - NO_COLOR: the supervisor writes to its log file.
 * - GLIBC_TUNABLES (unless the user set it): Node's threads (V8's compiler
 *   and GC helpers, libuv's pool) each get a glibc malloc arena, and glibc
 *   keeps what they freed: one arena that gives back what it frees above
 *   64 KiB, measured under load with reloads, left it ~7 MiB smaller.
 * - NODE_EXTRA_CA_CERTS is not given to it: Node loads those certificates
 *   (and OpenSSL with them) at start-up, whether it makes a TLS connection or
 *   not, ~1.8 MiB for a system bundle; the supervisor makes none (Envoy's
 *   admin is plain HTTP on 127.0.0.1, Docker a local socket). Kept when
 *   DOCKER_HOST names a remote engine.
 */
const MARK = "ENVOYWASM_SUPERVISOR_ENV";

export const SUPERVISOR_TUNABLES = "glibc.malloc.arena_max=1:glibc.malloc.trim_threshold=65536";

export function supervisorEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const changes: Record<string, string | undefined> = { NO_COLOR: "1" };
  if (env.GLIBC_TUNABLES === undefined) changes.GLIBC_TUNABLES = SUPERVISOR_TUNABLES;
  const remoteDocker = env.DOCKER_HOST !== undefined && env.DOCKER_HOST !== "" && !env.DOCKER_HOST.startsWith("unix://");
  if (env.NODE_EXTRA_CA_CERTS !== undefined && !remoteDocker) changes.NODE_EXTRA_CA_CERTS = undefined;
  const out: NodeJS.ProcessEnv = { ...env };
  const was: Record<string, string | null> = {};
  for (const [name, value] of Object.entries(changes)) {
    was[name] = env[name] ?? null;
    if (value === undefined) delete out[name];
    else out[name] = value;
  }
  out[MARK] = JSON.stringify(was);
  return out;
}

/** The environment for a program the supervisor starts: the one `up` was given (as is outside a background supervisor). */
export function childEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const saved = env[MARK];
  if (saved === undefined) return env;
  const { [MARK]: _mark, ...out } = env;
  let was: unknown;
  try {
    was = JSON.parse(saved);
  } catch {
    return out;
  }
  if (typeof was !== "object" || was === null) return out;
  for (const [name, value] of Object.entries(was)) {
    if (value === null) delete out[name];
    else if (typeof value === "string") out[name] = value;
  }
  return out;
}
