import { chmod, rm } from "node:fs/promises";
import net from "node:net";
import * as v from "valibot";
import { UserError } from "../../errors.js";
import { PreparedReloadSchema, type PreparedReload } from "../reload/prepared.js";
import type { ReloadResult } from "../reload/result.js";
import { parseJson, schemaOf } from "../../platform/records.js";

/**
 * The running supervisor's control socket (the user's only: mode 0600), one
 * JSON message per line, one conversation per connection: the client's
 * `{"type":"begin"}` gets `{"type":"go"}` once every earlier reload is done;
 * it then builds and derives in its own process while it holds the run's
 * reload turn, so two reloads never prepare at once (each prunes the module
 * copies the other's config does not use), and sends
 * `{"type":"apply","prepared"}`; the answer is `{"type":"result"}`.
 */

/** What the client says: it wants a turn, then what it prepared. */
export const ClientMessageSchema = v.variant("type", [
  v.object({ type: v.literal("begin") }),
  v.object({ type: v.literal("apply"), prepared: PreparedReloadSchema }),
]);
export type ClientMessage = v.InferOutput<typeof ClientMessageSchema>;

/** run/reload/apply.ts declares ReloadResult; this must match it exactly. */
const ReloadResultSchema = schemaOf<ReloadResult>()(
  v.object({ ok: v.boolean(), message: v.string(), hint: v.optional(v.string()), unchanged: v.optional(v.boolean()) }),
);
export const ControlResponseSchema = v.object({ type: v.literal("result"), result: ReloadResultSchema });
export type ControlResponse = v.InferOutput<typeof ControlResponseSchema>;

/** What the supervisor says: the client's turn has come, then how the reload went. */
export const SupervisorMessageSchema = v.variant("type", [v.object({ type: v.literal("go") }), ControlResponseSchema]);
export type SupervisorMessage = v.InferOutput<typeof SupervisorMessageSchema>;

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
    const send = (message: SupervisorMessage) => socket.writable && socket.write(`${JSON.stringify(message)}\n`);
    socket.setEncoding("utf8");
    socket.on("error", gone);
    socket.on("close", gone);
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      for (let newline = buffer.indexOf("\n"); newline >= 0; newline = buffer.indexOf("\n")) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        const parsed = parseJson(ClientMessageSchema, line);
        if (!begun) {
          if (parsed.ok && parsed.value.type === "begin") {
            begun = true;
            void handle({ go: () => send({ type: "go" }), prepared }).then((response) => socket.end(`${JSON.stringify(response)}\n`));
          } else {
            const refusal: ControlResponse = { type: "result", result: { ok: false, message: "not a request this supervisor knows" } };
            socket.end(`${JSON.stringify(refusal)}\n`);
          }
        } else if (parsed.ok && parsed.value.type === "apply") {
          settle?.(parsed.value.prepared);
        } else {
          const problem = parsed.ok ? `a second ${parsed.value.type}` : parsed.problem;
          settle?.({ ok: false, message: `envoywasm reload sent something this supervisor does not understand: ${problem}` });
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

/** Asks a running supervisor to reload what `prepare` builds once it is this reload's turn. */
export function askSupervisor(socketPath: string, prepare: () => Promise<unknown>, timeoutMs = 300_000): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let buffer = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new UserError("the running supervisor did not answer in time", { hint: "see `envoywasm logs supervisor`" }));
    }, timeoutMs);
    let answer: ControlResponse | undefined;
    const fail = (error: unknown) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    const say = (message: ClientMessage | { type: "apply"; prepared: unknown }) => socket.write(`${JSON.stringify(message)}\n`);
    socket.setEncoding("utf8");
    socket.on("connect", () => say({ type: "begin" }));
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      for (let newline = buffer.indexOf("\n"); newline >= 0; newline = buffer.indexOf("\n")) {
        const parsed = parseJson(SupervisorMessageSchema, buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
        if (!parsed.ok) {
          fail(new UserError(`the running supervisor gave an answer this envoywasm does not understand: ${parsed.problem}`));
          return;
        }
        if (parsed.value.type === "go") prepare().then((prepared) => say({ type: "apply", prepared }), fail);
        else answer = parsed.value;
      }
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new UserError(`cannot reach the running supervisor (${error.code ?? error.message})`, { hint: "is the project running? `envoywasm status` says" }),
      );
    });
    socket.on("end", () => {
      clearTimeout(timer);
      if (answer !== undefined) resolve(answer);
      else reject(new UserError("the running supervisor closed the connection without an answer", { hint: "see `envoywasm logs supervisor`" }));
    });
  });
}
