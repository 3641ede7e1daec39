/**
 * The process's one hook for SIGINT, SIGTERM, SIGHUP and its exit (the CLI's
 * and the background supervisor's alike). A command that decides how to end on
 * a signal (a foreground `up`, `logs -f`) claims the signals while it runs; the
 * newest claim gets them. Unclaimed, a signal runs the cleanups and ends the
 * process with 128 + the signal's number, as a shell reports it. Cleanups also
 * run, as far as they get synchronously, when the process exits in any other way.
 */

export type Signal = "SIGINT" | "SIGTERM" | "SIGHUP";

const SIGNALS: readonly Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];
export const SIGNAL_EXIT_CODES: Record<Signal, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

const cleanups = new Set<() => void | Promise<void>>();
const claims: ((signal: Signal) => void)[] = [];
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  for (const s of SIGNALS) process.on(s, onSignal);
  process.on("exit", runCleanups);
}

function runCleanups(): Promise<unknown> {
  const running = [...cleanups].map((c) =>
    Promise.resolve()
      .then(c)
      .catch(() => {}),
  );
  cleanups.clear();
  return Promise.all(running);
}

function onSignal(signal: Signal): void {
  const claim = claims.at(-1);
  if (claim !== undefined) {
    claim(signal);
    return;
  }
  // Only here and in bin/ does envoywasm end the process itself: a signal nobody claimed ends it.
  void runCleanups().finally(() => process.exit(SIGNAL_EXIT_CODES[signal]));
}

/** Runs `cleanup` when the process ends (by a signal nobody claimed, or an exit); returns how to take it back. */
export function onExit(cleanup: () => void | Promise<void>): () => void {
  install();
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/** Sends SIGINT, SIGTERM and SIGHUP to `handler` until the returned function is called. */
export function claimSignals(handler: (signal: Signal) => void): () => void {
  install();
  claims.push(handler);
  return () => {
    const i = claims.lastIndexOf(handler);
    if (i >= 0) claims.splice(i, 1);
  };
}
