import { chmod, rm } from "node:fs/promises";
import net from "node:net";
import { UserError } from "../../errors.js";
import { isPreparedReload, type PreparedReload } from "../reload/prepared.js";
import type { ReloadResult } from "../reload/result.js";

/**
 * The running supervisor's control socket (the user's only: mode 0600), one
 * JSON message per line, one conversation per connection: the client's
 * `{"type":"begin"}` gets `{"type":"go"}` once every earlier reload is done;
 * it then builds and derives in its own process while it holds the run's
 * reload turn, so two reloads never prepare at once (each prunes the module
 * copies the other's config does not use), and sends
 * `{"type":"apply","prepared"}`; the answer is `{"type":"result"}`.
 */

export type ControlResponse = { type: "result"; result: ReloadResult };

/** A `begin` conversation, as the supervisor sees it. */
export interface Turn {
  /** Tells the client it holds the reload turn. */
  go(): void;
  /** What the client prepared; a failure when it went away or sent something else. */
  prepared: Promise<PreparedReload>;
}

export async function serveControl(socketPath: string, handle: (turn: Turn) => Promise<ControlResponse>): Promise<() => Promise<void>> {
  await rm(socketPath, { force: true });
  const server = net.createServer((socket) => {
    let buffer = "";
    let begun = false;
    let settle: ((p: PreparedReload) => void) | undefined;
    const prepared = new Promise<PreparedReload>((resolve) => (settle = resolve));
    const gone = () => settle?.({ ok: false, message: "envoywasm reload went away before it sent what it built" });
    const send = (message: object) => socket.writable && socket.write(`${JSON.stringify(message)}\n`);
    socket.setEncoding("utf8");
    socket.on("error", gone);
    socket.on("close", gone);
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      for (let newline = buffer.indexOf("\n"); newline >= 0; newline = buffer.indexOf("\n")) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        let parsed: { type?: unknown; prepared?: unknown } | undefined;
        try {
          parsed = JSON.parse(line) as typeof parsed;
        } catch {
          parsed = undefined;
        }
        if (!begun) {
          if (parsed?.type === "begin") {
            begun = true;
            void handle({ go: () => send({ type: "go" }), prepared }).then((response) => socket.end(`${JSON.stringify(response)}\n`));
          } else {
            socket.end(`${JSON.stringify({ type: "result", result: { ok: false, message: "not a request this supervisor knows" } })}\n`);
          }
        } else if (parsed?.type === "apply" && isPreparedReload(parsed.prepared)) {
          settle?.(parsed.prepared);
        } else {
          settle?.({ ok: false, message: "envoywasm reload sent something this supervisor does not understand" });
        }
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => resolve());
  });
  await chmod(socketPath, 0o600).catch(() => {});
  server.unref();
  return async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(socketPath, { force: true });
  };
}

function isResponse(value: unknown): value is ControlResponse {
  const v = value as ControlResponse;
  return v?.type === "result" && typeof v.result?.ok === "boolean" && typeof v.result.message === "string";
}

/** Asks a running supervisor to reload what `prepare` builds once it is this reload's turn. */
export function askSupervisor(socketPath: string, prepare: () => Promise<unknown>, timeoutMs = 300_000): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let buffer = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new UserError("the running supervisor did not answer in time", { hint: "see `envoywasm logs supervisor`" }));
    }, timeoutMs);
    const fail = (error: unknown) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    socket.setEncoding("utf8");
    socket.on("connect", () => socket.write(`${JSON.stringify({ type: "begin" })}\n`));
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      const newline = buffer.indexOf("\n");
      if (newline < 0 || !buffer.startsWith('{"type":"go"}')) return;
      buffer = buffer.slice(newline + 1);
      prepare().then((prepared) => socket.write(`${JSON.stringify({ type: "apply", prepared })}\n`), fail);
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new UserError(`cannot reach the running supervisor (${error.code ?? error.message})`, { hint: "is the project running? `envoywasm status` says" }));
    });
    socket.on("end", () => {
      clearTimeout(timer);
      try {
        const parsed: unknown = JSON.parse(buffer.trim());
        if (isResponse(parsed)) resolve(parsed);
        else reject(new UserError("the running supervisor gave an answer this envoywasm does not understand"));
      } catch {
        reject(new UserError("the running supervisor closed the connection without an answer", { hint: "see `envoywasm logs supervisor`" }));
      }
    });
  });
}
