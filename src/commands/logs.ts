import { UsageError } from "../errors.js";
import { failurePolicyIn, type FailurePolicy } from "../envoy/bootstrap.js";
import { loadProject } from "../project/config.js";
import { projectPaths } from "../project/paths.js";
import { readEnvoyConfig } from "../project/load.js";
import { formatLine, prefixed, readablePluginLine } from "../run/logs/format.js";
import { describePanic, type LogRecord } from "../envoy/log-records.js";
import { reportTrap } from "../run/logs/trap-report.js";
import { viewLogs } from "../run/logs/view.js";
import { ui } from "../ui/output.js";
import { writeOut } from "../ui/write.js";
import { claimSignals } from "../platform/exit-hook.js";

/** "90s", "5m", "2h", "1d" → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (m === null) throw new UsageError(`--since ${JSON.stringify(text)}: use a duration such as 30s, 5m, 2h or 1d`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "ms" | "s" | "m" | "h" | "d"];
  return Number(m[1]) * unit;
}

export interface LogsFlags {
  follow?: boolean;
  tail?: number;
  since?: string;
  wasm?: boolean;
  prefix?: boolean;
  all?: boolean;
  json?: boolean;
}

export async function runLogs(services: string[], flags: LogsFlags, globals: { cwd: string }): Promise<void> {
  const since = flags.since === undefined ? undefined : Date.now() - parseDuration(flags.since);
  const project = await loadProject(globals.cwd);
  const controller = new AbortController();
  // Ctrl-C (SIGTERM, a closed terminal) stops following; a second one ends the process.
  const releaseSignals = claimSignals(() => {
    releaseSignals();
    controller.abort();
  });
  let known: string[] = [];
  let policy: FailurePolicy | undefined;
  const failurePolicy = async () => (policy ??= failurePolicyIn(await readEnvoyConfig(project).catch(() => undefined)));
  try {
    await viewLogs({
      logsDir: projectPaths(project).logs,
      root: project.root,
      services,
      follow: flags.follow === true,
      tail: flags.tail,
      since,
      wasm: flags.wasm === true,
      all: flags.all === true || ui.verbose,
      signal: controller.signal,
      onServices: (s) => (known = s),
      onFollowing: () => ui.info(ui.paint("gray", `• following ${known.join(", ")} (Ctrl-C to stop)`)),
      write: async (record) => {
        if (record.panic?.callback !== undefined) {
          const { message, func, location, callback } = record.panic;
          reportTrap({ callback, message, func, location, failurePolicy: await failurePolicy() });
        }
        if (flags.json === true) return writeOut(`${JSON.stringify(recordJson(record))}\n`);
        const width = Math.max(...known.map((s) => s.length));
        return writeOut(
          `${renderRecord(record, { colour: ui.stdoutColour, prefix: flags.prefix !== false, width, services: known, readable: !ui.verbose })}\n`,
        );
      },
    });
  } finally {
    releaseSignals();
  }
}

/** A record as `logs` shows it: a panic as its explanation, a plugin message with its continuation lines under it. */
function renderRecord(record: LogRecord, o: Parameters<typeof formatLine>[2]): string {
  if (o.readable === true && record.panic !== undefined && record.plugin !== undefined) {
    const text = readablePluginLine({ ...record.plugin, level: "error", message: describePanic(record.panic) });
    return prefixed(record.service, text, { ...o, highlight: "error" });
  }
  if (o.readable === true && record.plugin !== undefined) {
    const [first, ...more] = readablePluginLine(record.plugin).split("\n");
    const level = record.plugin.level === "error" || record.plugin.level === "critical" ? "error" : "plugin";
    return [first!, ...more].map((text) => prefixed(record.service, text, { ...o, highlight: level })).join("\n");
  }
  return record.lines.map((line) => formatLine(record.service, line, o)).join("\n");
}

/** `logs --json`: one record per line. */
function recordJson(record: LogRecord) {
  const kind = record.panic !== undefined ? "panic" : record.plugin !== undefined ? "plugin" : "line";
  return {
    service: record.service,
    at: record.at === undefined ? undefined : new Date(record.at).toISOString(),
    kind,
    plugin:
      record.plugin === undefined
        ? undefined
        : { name: record.plugin.plugin, level: record.plugin.level, message: record.panic === undefined ? record.plugin.message : describePanic(record.panic) },
    panic: record.panic,
    lines: record.lines,
  };
}
