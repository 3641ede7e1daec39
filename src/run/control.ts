import { chmod, rm } from "node:fs/promises";
import net from "node:net";
import { UserError } from "../errors.js";
import { isPreparedReload, type PreparedReload } from "./prepared-reload.js";
import type { ReloadResult } from "./reload.js";

/**
 * The running supervisor's control socket: `envoywasm reload` sends it a
 * reload it has prepared (built and derived) to apply; a plain "reload"
 * has the supervisor prepare it. One JSON request per connection, one JSON
 * answer. The socket is the user's only (mode 0600).
 */

export type ControlRequest = { type: "reload" } | { type: "apply"; prepared: PreparedReload };
export type ControlResponse = { type: "result"; result: ReloadResult };

export async function serveControl(socketPath: string, handle: (request: ControlRequest) => Promise<ControlResponse>): Promise<() => Promise<void>> {
  await rm(socketPath, { force: true });
  const server = net.createServer((socket) => {
    let buffer = "";
    socket.setEncoding("utf8");
    socket.on("error", () => {});
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      const newline = buffer.indexOf("\n");
      if (newline < 0) return;
      const line = buffer.slice(0, newline);
      let request: ControlRequest | undefined;
      try {
        const parsed = JSON.parse(line) as { type?: unknown; prepared?: unknown };
        if (parsed?.type === "reload") request = { type: "reload" };
        else if (parsed?.type === "apply" && isPreparedReload(parsed.prepared)) request = { type: "apply", prepared: parsed.prepared };
      } catch {
        // answered below
      }
      if (request === undefined) {
        socket.end(`${JSON.stringify({ type: "result", result: { ok: false, message: "not a request this supervisor knows" } })}\n`);
        return;
      }
      void handle(request).then((response) => socket.end(`${JSON.stringify(response)}\n`));
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

/** Sends one request to a running supervisor and waits for its answer. */
export function askSupervisor(socketPath: string, request: ControlRequest, timeoutMs = 300_000): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let buffer = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new UserError("the running supervisor did not answer in time", { hint: "see `envoywasm logs supervisor`" }));
    }, timeoutMs);
    socket.setEncoding("utf8");
    socket.on("connect", () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on("data", (chunk: string) => (buffer += chunk));
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
