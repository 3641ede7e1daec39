import { isIP } from "node:net";
import { UserError } from "../errors.js";
import { boundPorts, isAnyAddress, isLoopback, type EnvoyBootstrap } from "../envoy/bootstrap.js";
import { findPortHolder, portInUse } from "../platform/ports.js";
import type { BackendTarget } from "../project/backend.js";

/**
 * Every port Envoy binds, and the backend's: each must be free, and on
 * loopback unless exposing was asked for (Envoy's admin interface can shut
 * Envoy down and dumps its config).
 */
export async function checkPorts(bootstrap: EnvoyBootstrap, backend: BackendTarget | undefined, allowAny: boolean): Promise<void> {
  const binds = boundPorts(bootstrap);
  binds.forEach(refuseUnreachable);
  const wanted = binds.map((p) => ({ ...p, hint: `change the port in ${p.where}` }));
  if (backend !== undefined)
    wanted.push({
      what: `backend (cluster ${backend.cluster})`,
      address: "127.0.0.1",
      port: backend.port,
      where: bootstrap.display,
      hint: `change the cluster's port in ${bootstrap.display}`,
    });
  const seen = new Map<number, string>();
  for (const p of wanted) {
    const other = seen.get(p.port);
    if (other !== undefined)
      throw new UserError(`port ${p.port} is used twice in ${bootstrap.display}: by ${other} and by ${p.what}`, { hint: "give each its own port" });
    seen.set(p.port, p.what);
    if (!allowAny && !isLoopback(p.address)) {
      throw new UserError(
        `${p.where}: ${p.what} binds ${p.address}:${p.port}, which other machines can reach${p.what === "admin" ? " (the admin interface can shut Envoy down and dumps its config)" : ""}`,
        {
          hint: "bind 127.0.0.1 in envoy.yaml, or run `envoywasm up --expose` to run it as written",
        },
      );
    }
    if (await portInUse(p.port, isAnyAddress(p.address) ? "0.0.0.0" : "127.0.0.1")) {
      const holder = findPortHolder(p.port);
      const who =
        holder === undefined ? "another process" : `pid ${holder.pid} (${holder.command.length > 80 ? `${holder.command.slice(0, 79)}…` : holder.command})`;
      throw new UserError(`port ${p.port} (${p.what}, ${p.where}) is already in use by ${who}`, { hint: `stop that process, or ${p.hint}` });
    }
  }
}

/** Envoy binds IP addresses only, and envoywasm reaches what Envoy binds over IPv4 (127.0.0.1). */
function refuseUnreachable(p: { what: string; address: string; port: number; where: string }): void {
  const family = isIP(p.address);
  if (family === 0) {
    throw new UserError(`${p.where}: ${p.what} binds ${p.address}:${p.port}, but Envoy binds IP addresses only`, { hint: "write 127.0.0.1 there" });
  }
  if (family === 6) {
    throw new UserError(`${p.where}: ${p.what} binds [${p.address}]:${p.port}, an IPv6 address; envoywasm reaches Envoy over IPv4 (127.0.0.1)`, {
      hint: "bind 127.0.0.1 there (0.0.0.0 with `envoywasm up --expose`)",
    });
  }
}
