import type { CaseResult } from "./runner.js";
import type { E2eRun, E2eRuns } from "./versions.js";
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

/** "Envoy 1.40.0", "Envoy 1.40.0 in Docker", or "Envoy at <path>" for a binary that did not say: what names a run among several. */
export function runLabel(run: E2eRun): string {
  const which = run.envoy.version === "unknown" ? `at ${run.envoy.path}` : run.envoy.version;
  return `Envoy ${which}${run.envoy.image === undefined ? "" : " in Docker"}`;
}

export function resultJson(result: E2eRuns) {
  return {
    project: result.project,
    passed: result.passed,
    failed: result.failed,
    ms: result.ms,
    runs: result.runs.map(runJson),
  };
}

function runJson(run: E2eRun) {
  return {
    envoy: run.envoy,
    passed: run.passed,
    failed: run.failed,
    ms: run.ms,
    error: run.error,
    cases: run.cases.map((r) => ({
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

const seconds = (ms: number) => (ms / 1000).toFixed(3);

export function junitXml(result: E2eRuns): string {
  const tests = result.runs.reduce((n, r) => n + (r.error === undefined ? r.cases.length : 1), 0);
  const errors = result.runs.filter((r) => r.error !== undefined).length;
  const lines = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="${attr(`${result.project} e2e`)}" tests="${tests}" failures="${result.failed}" errors="${errors}" time="${seconds(result.ms)}">`,
  ];
  for (const run of result.runs) lines.push(...suiteXml(run));
  lines.push("</testsuites>", "");
  return lines.join("\n");
}

/** A testsuite per Envoy; one that could not run the cases holds a testcase for its start, in error. */
function suiteXml(run: E2eRun): string[] {
  const suite = `envoywasm e2e (${runLabel(run)})`;
  const tests = run.error === undefined ? run.cases.length : 1;
  const lines = [
    `  <testsuite name="${attr(suite)}" tests="${tests}" failures="${run.failed}" errors="${run.error === undefined ? 0 : 1}" skipped="0" time="${seconds(run.ms)}">`,
    `    <properties><property name="envoy.version" value="${attr(run.envoy.version)}"/>${run.envoy.image === undefined ? "" : `<property name="envoy.image" value="${attr(run.envoy.image)}"/>`}</properties>`,
  ];
  if (run.error !== undefined) {
    const body = [run.error.message, ...(run.error.hint === undefined ? [] : [`hint: ${run.error.hint}`])].join("\n");
    lines.push(
      `    <testcase classname="envoy" name="${attr(`${runLabel(run)} runs the plugin`)}" time="${seconds(run.ms)}">`,
      `      <error message="${attr(run.error.message.split("\n")[0]!)}" type="envoy">${text(body)}</error>`,
      `    </testcase>`,
    );
  }
  for (const r of run.cases) {
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
  lines.push("  </testsuite>");
  return lines;
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
