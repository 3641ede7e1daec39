/**
 * How `up -d`'s background supervisor is started: its Node flags and its
 * environment (the benchmark starts its Node baselines the same way).
 * gc() runs after each reload; a small young generation keeps a stream of
 * plugin lines from growing the process (bench/README.md has the figures).
 */
export const SUPERVISOR_NODE_FLAGS = ["--expose-gc", "--max-semi-space-size=2"];

/**
 * The background supervisor's environment: `up`'s, with NO_COLOR (it writes
 * to a log file), one malloc arena that gives back what it frees (unless the
 * user set GLIBC_TUNABLES), and without NODE_EXTRA_CA_CERTS (loaded at start,
 * unused: it makes no TLS connection unless DOCKER_HOST is remote). What was
 * changed is recorded in the environment (MARK), so every program it starts
 * gets `up`'s environment back.
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
