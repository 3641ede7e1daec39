import path from "node:path";
import { UsageError, UserError } from "../../errors.js";
import type { EnvoyBootstrap } from "../../envoy/bootstrap.js";
import type { Project } from "../../project/config.js";
import { legacyTryRequests } from "../../project/try.js";
import { CASES_DIR } from "../../project/paths.js";
import { caseContext, loadCases, type E2eCase } from "./cases.js";
import { curlFor } from "./expect.js";

/** How many cases' requests `up` shows. */
const SHOWN = 3;

export interface TryRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** http://127.0.0.1:<port of the case's listener><path> */
  url: string;
  /** The status the case expects, when it says one. */
  status?: number;
  /** The request as a curl line that works as printed. */
  curl: string;
}

/**
 * The requests `up` suggests (and `bench` sends by default): those of the
 * first e2e cases, in the order `envoywasm test` runs them, against the
 * port of each case's listener in envoy.yaml. Without a case file: GET / on
 * the plugin's listener; case files that hold no case (an adopted plugin no
 * request may reach) suggest nothing. A bad case file is told, and GET / suggested. A project
 * that still has envoywasm.yaml's `try:` gets those, and a line on how to move them.
 */
export async function tryRequests(project: Project, bootstrap: EnvoyBootstrap): Promise<{ requests: TryRequest[]; warnings: string[] }> {
  const portOf = (listener: string) => bootstrap.listeners.find((l) => l.name === listener)?.port;
  const make = (request: E2eCase["request"], port: number, status?: number): TryRequest => {
    const url = `http://127.0.0.1:${port}${request.path}`;
    return { ...request, url, status, curl: curlFor(request, url) };
  };
  if (project.config.try !== undefined && project.config.try !== null) {
    const legacy = legacyTryRequests(project, bootstrap);
    const file = path.basename(project.file);
    return {
      requests: legacy.requests.map((r) => ({ ...r, curl: curlFor(r, r.url) })),
      warnings: [
        ...legacy.warnings,
        `${file}: try: is replaced by the e2e cases in ${CASES_DIR}/, whose first requests up now suggests: \`envoywasm migrate\` moves these requests there (docs/e2e.md)`,
      ],
    };
  }
  const context = caseContext(bootstrap);
  const warnings: string[] = [];
  let cases: E2eCase[] | undefined;
  try {
    cases = await loadCases(project.root, context);
  } catch (error) {
    // A bad case file is `envoywasm test`'s to refuse; no case file at all is not a problem here.
    if (error instanceof UsageError) warnings.push(`${error.message} (so up suggests GET /)`);
    else if (!(error instanceof UserError)) throw error;
  }
  if (cases?.length === 0) return { requests: [], warnings };
  const requests = (cases ?? []).slice(0, SHOWN).flatMap((c) => {
    const port = portOf(c.listener);
    return port === undefined ? [] : [make(c.request, port, c.expect.status)];
  });
  const fallback = context.defaultListener === undefined ? undefined : portOf(context.defaultListener);
  if (requests.length === 0 && fallback !== undefined) requests.push(make({ method: "GET", path: "/", headers: {} }, fallback));
  return { requests, warnings };
}
