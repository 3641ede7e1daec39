import type { CaseResult, E2eResult } from "./runner.js";
import { failureText } from "./expect.js";

/**
 * The results of a run of the cases, for machines: JSON (stdout with
 * --json) and JUnit XML (--junit <file>), a testsuite per Envoy version and
 * a testcase per case, as CI systems read it.
 */

export function caseFailure(r: CaseResult): string[] {
  return failureText({ curl: r.curl, mismatches: r.mismatches, error: r.error, records: r.records });
}

/** The first line of what went wrong: what a CI list of failures shows. */
export function failureHeadline(r: CaseResult): string {
  return r.error ?? r.mismatches.map((m) => m.message).join("; ");
}

export function resultJson(result: E2eResult) {
  return {
    project: result.project,
    envoy: result.envoy,
    passed: result.passed,
    failed: result.failed,
    ms: result.ms,
    cases: result.cases.map((r) => ({
      file: r.file,
      line: r.line,
      name: r.name,
      ok: r.ok,
      ms: r.ms,
      request: r.request,
      curl: r.curl,
      ...(r.answer === undefined ? {} : { status: r.answer.status }),
      ...(r.error === undefined ? {} : { error: r.error }),
      mismatches: r.mismatches,
      records: r.records,
    })),
  };
}

export function junitXml(result: E2eResult): string {
  const seconds = (ms: number) => (ms / 1000).toFixed(3);
  const suite = `envoywasm e2e (Envoy ${result.envoy.version})`;
  const lines = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="${attr(`${result.project} e2e`)}" tests="${result.cases.length}" failures="${result.failed}" errors="0" time="${seconds(result.ms)}">`,
    `  <testsuite name="${attr(suite)}" tests="${result.cases.length}" failures="${result.failed}" errors="0" skipped="0" time="${seconds(result.ms)}">`,
    `    <properties><property name="envoy.version" value="${attr(result.envoy.version)}"/></properties>`,
  ];
  for (const r of result.cases) {
    const open = `    <testcase classname="${attr(r.file.replace(/\.ya?ml$/, "").replaceAll("/", "."))}" name="${attr(r.name)}" file="${attr(r.file)}" line="${r.line}" time="${seconds(r.ms)}"`;
    if (r.ok) {
      lines.push(`${open}/>`);
      continue;
    }
    lines.push(
      `${open}>`,
      `      <failure message="${attr(failureHeadline(r))}" type="${r.error === undefined ? "mismatch" : "no-answer"}">${text(caseFailure(r).join("\n"))}</failure>`,
      `    </testcase>`,
    );
  }
  lines.push("  </testsuite>", "</testsuites>", "");
  return lines.join("\n");
}

/** XML 1.0 allows neither most control characters nor lone surrogates, escaped or not. */
function clean(s: string): string {
  return s.replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, "\uFFFD");
}

function text(s: string): string {
  return clean(s).replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

function attr(s: string): string {
  return text(s).replaceAll('"', "&quot;").replaceAll("\n", "&#10;").replaceAll("\r", "&#13;").replaceAll("\t", "&#9;");
}
