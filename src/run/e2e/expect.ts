import { describePanic, type LogRecord } from "../../envoy/log-records.js";
import { shellQuote } from "../../platform/exec.js";
import type { BodyExpectation, E2eCase } from "./cases.js";

/**
 * A case's expectations against what came back, and a failed case told so
 * it can be acted on: the request as curl, expected against got, and what
 * the plugin logged meanwhile.
 */

export interface Answer {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: string;
}

/** What a plugin logged during a request: its message, or a panic told in a line. */
export interface PluginRecord {
  level?: string;
  text: string;
  panic?: string;
}

export function pluginRecords(records: readonly LogRecord[]): PluginRecord[] {
  return records
    .filter((r) => r.plugin !== undefined || r.panic !== undefined)
    .map((r) => ({
      level: r.plugin?.level,
      text: r.plugin?.message ?? r.lines.join("\n"),
      ...(r.panic === undefined ? {} : { panic: describePanic(r.panic) }),
    }));
}

/** One way the answer differs from the case: a headline and the lines that show how. */
export interface Mismatch {
  what: "status" | "headers" | "body" | "logs" | "noLogs";
  message: string;
  detail: string[];
}

export function check(c: E2eCase, answer: Answer, records: readonly PluginRecord[]): Mismatch[] {
  const out: Mismatch[] = [];
  const e = c.expect;
  if (e.status !== undefined && answer.status !== e.status)
    out.push({ what: "status", message: `status: expected ${e.status}, got ${answer.status}`, detail: [] });
  const headerLines: string[] = [];
  for (const h of e.headers) {
    const got = answer.headers[h.name];
    const ok = h.value === null ? got === undefined : got !== undefined && (h.pattern === undefined ? got === h.value : h.pattern.test(got));
    if (ok) continue;
    headerLines.push(`- ${h.name}: ${h.value === null ? "(absent)" : h.value}`, `+ ${h.name}: ${got ?? "(absent)"}`);
  }
  if (headerLines.length > 0) out.push({ what: "headers", message: `headers: ${headerLines.length / 2} differ (- expected, + got)`, detail: headerLines });
  if (e.body !== undefined) {
    const problem = bodyMismatch(e.body, answer.body);
    if (problem !== undefined) out.push({ what: "body", ...problem });
  }
  const texts = records.map((r) => (r.panic === undefined ? r.text : `${r.panic}\n${r.text}`));
  for (const l of e.logs) {
    if (!texts.some((t) => l.test(t))) out.push({ what: "logs", message: `logs: no record of the plugin matches ${JSON.stringify(l.source)}`, detail: [] });
  }
  for (const l of e.noLogs) {
    const hit = texts.find((t) => l.test(t));
    if (hit !== undefined)
      out.push({ what: "noLogs", message: `noLogs: a record of the plugin matches ${JSON.stringify(l.source)}`, detail: [`+ ${firstLine(hit)}`] });
  }
  return out;
}

function bodyMismatch(e: BodyExpectation, got: string): { message: string; detail: string[] } | undefined {
  switch (e.kind) {
    case "exact":
      return got === e.text ? undefined : { message: "body: differs (- expected, + got)", detail: lineDiff(e.text, got) };
    case "contains":
      return got.includes(e.text) ? undefined : { message: `body: does not contain ${JSON.stringify(e.text)}`, detail: excerpt(got) };
    case "matches":
      return e.re.test(got) ? undefined : { message: `body: does not match /${e.re.source}/`, detail: excerpt(got) };
    case "json": {
      let value: unknown;
      try {
        value = JSON.parse(got);
      } catch {
        return { message: "body: is not JSON", detail: excerpt(got) };
      }
      const where = subsetMismatch(e.value, value, "$");
      return where === undefined
        ? undefined
        : {
            message: `body: JSON differs at ${where.at} (- expected, + got)`,
            detail: [`- ${JSON.stringify(where.expected)}`, `+ ${JSON.stringify(where.got) ?? "(absent)"}`],
          };
    }
  }
}

/** Where `got` fails to hold `expected`: every key of an expected object (deeply), arrays item by item and as long, the rest equal. */
export function subsetMismatch(expected: unknown, got: unknown, at: string): { at: string; expected: unknown; got: unknown } | undefined {
  if (expected !== null && typeof expected === "object") {
    if (Array.isArray(expected)) {
      if (!Array.isArray(got) || got.length !== expected.length) return { at, expected, got };
      for (let i = 0; i < expected.length; i++) {
        const m = subsetMismatch(expected[i], got[i], `${at}[${i}]`);
        if (m !== undefined) return m;
      }
      return undefined;
    }
    if (got === null || typeof got !== "object" || Array.isArray(got)) return { at, expected, got };
    for (const [k, val] of Object.entries(expected)) {
      const m = subsetMismatch(val, (got as Record<string, unknown>)[k], `${at}.${k}`);
      if (m !== undefined) return m;
    }
    return undefined;
  }
  return expected === got ? undefined : { at, expected, got };
}

/** A small line diff (- expected, + got, two spaces: the same), by the longest common subsequence. */
export function lineDiff(expected: string, got: string): string[] {
  const a = expected.split("\n");
  const b = got.split("\n");
  if (a.length * b.length > 40_000) return [...a.slice(0, 20).map((l) => `- ${l}`), ...b.slice(0, 20).map((l) => `+ ${l}`)];
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      out.push(`  ${a[i++]}`);
      j++;
    } else if (i < a.length && (j === b.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) out.push(`- ${a[i++]}`);
    else out.push(`+ ${b[j++]}`);
  }
  return out;
}

function excerpt(body: string): string[] {
  const lines = body.split("\n");
  const shown = lines.slice(0, 10).map((l) => `+ ${l.length > 200 ? `${l.slice(0, 200)}…` : l}`);
  return lines.length > 10 ? [...shown, `  (${lines.length - 10} more lines)`] : shown;
}

function firstLine(text: string): string {
  return text.split("\n")[0] ?? "";
}

/** The request as a curl line that works as printed (while the test run's Envoy runs). */
export function curlFor(request: E2eCase["request"], url: string): string {
  const parts = ["curl", "-i"];
  if (request.method !== "GET" || request.body !== undefined) parts.push("-X", request.method);
  for (const [k, val] of Object.entries(request.headers)) parts.push("-H", shellQuote(`${k}: ${val}`));
  if (request.body !== undefined) parts.push("--data-raw", shellQuote(request.body));
  parts.push(shellQuote(url));
  return parts.join(" ");
}

/** A failed case, told in lines (indented under its name). */
export function failureText(o: { curl: string; mismatches: readonly Mismatch[]; error?: string; records: readonly PluginRecord[] }): string[] {
  const out = [`  ${o.curl}`, "    (against the test run's Envoy, on a port of its own; it stops when the run ends)"];
  if (o.error !== undefined) out.push(`  ${o.error}`);
  for (const m of o.mismatches) {
    out.push(`  ${m.message}`);
    for (const d of m.detail) out.push(`    ${d}`);
  }
  if (o.records.length === 0) out.push("  the plugin logged nothing during this request");
  else {
    out.push("  the plugin logged during this request:");
    for (const r of o.records) {
      if (r.panic !== undefined) out.push(`    ${r.panic}`);
      else for (const [i, line] of r.text.split("\n").entries()) out.push(`    ${i === 0 ? `[${r.level ?? "?"}] ` : "  "}${line}`);
    }
  }
  return out;
}
