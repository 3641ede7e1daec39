import { UserError } from "../errors.js";
import { boundPorts, isAnyAddress, isLoopback, type EnvoyBootstrap } from "../envoy/bootstrap.js";
import type { Project } from "./config.js";
import { DEFAULT_PORTS } from "../envoy/default-ports.js";

export interface BackendTarget {
  cluster: string;
  port: number;
}

/**
 * The backend serves one of envoy.yaml's clusters, on that cluster's
 * loopback port: backend.cluster, else the cluster named "backend", else the
 * only cluster whose endpoints are all on loopback.
 */
export function backendTarget(project: Project, bootstrap: EnvoyBootstrap): BackendTarget | undefined {
  const backend = project.config.backend;
  if (backend === undefined) return undefined;
  const envoyPorts = new Set(boundPorts(bootstrap).map((p) => p.port));
  const loopbackOnly = bootstrap.clusters.filter(
    (c) =>
      c.endpoints.length > 0 && c.endpoints.every((e) => isLoopback(e.address) || isAnyAddress(e.address)) && !c.endpoints.some((e) => envoyPorts.has(e.port)),
  );
  const named = backend.cluster ?? "backend";
  const cluster =
    bootstrap.clusters.find((c) => c.name === named) ?? (backend.cluster === undefined && loopbackOnly.length === 1 ? loopbackOnly[0] : undefined);
  if (cluster === undefined) {
    throw new UserError(
      `${bootstrap.display} has no cluster "${named}" for the backend to serve (clusters: ${bootstrap.clusters.map((c) => c.name).join(", ") || "none"})`,
      {
        hint: "name the cluster the backend serves with backend.cluster in envoywasm.yaml, or remove backend: when the project has none",
      },
    );
  }
  const endpoint = cluster.endpoints[0];
  if (endpoint === undefined) {
    throw new UserError(`cluster ${cluster.name} (${cluster.where}) has no endpoint with an address and a numeric port_value for the backend to serve`, {
      hint: `give it one in ${bootstrap.display}: load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address: { address: 127.0.0.1, port_value: ${DEFAULT_PORTS.backend} }`,
    });
  }
  if (!(isLoopback(endpoint.address) || isAnyAddress(endpoint.address))) {
    throw new UserError(`cluster ${cluster.name} (${cluster.where}) does not point at this machine, so the backend cannot serve it`, {
      hint: `point its endpoint at 127.0.0.1:<port> in ${bootstrap.display}`,
    });
  }
  return { cluster: cluster.name, port: endpoint.port };
}
