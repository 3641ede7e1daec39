import { readFile } from "node:fs/promises";
import * as v from "valibot";

/**
 * The files and messages envoywasm writes for itself and reads back (run
 * state, lock, plan, control messages, stamps, records) each have a valibot
 * schema beside their owner; this is how any of them is read, so a bad one is
 * told the same way everywhere: the file (or message), then one line naming
 * the first field that is wrong, what it must be and what it holds.
 */

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

/** Parses a value that came from another process or a file. */
export function parseRecord<S extends v.GenericSchema>(schema: S, value: unknown): Parsed<v.InferOutput<S>> {
  const result = v.safeParse(schema, value, { abortPipeEarly: true });
  return result.success ? { ok: true, value: result.output } : { ok: false, problem: issueLine(result.issues[0]) };
}

/** Reads and parses a JSON file; undefined when there is none. */
export async function readRecord<S extends v.GenericSchema>(file: string, schema: S): Promise<Parsed<v.InferOutput<S>> | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === "ENOENT" || code === "ENOTDIR" ? undefined : { ok: false, problem: `it cannot be read (${code ?? (error as Error).message})` };
  }
  return parseJson(schema, text);
}

/** Parses JSON text (a file's, or a line of a conversation). */
export function parseJson<S extends v.GenericSchema>(schema: S, text: string): Parsed<v.InferOutput<S>> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, problem: `it is not JSON (${(error as Error).message.split("\n")[0]})` };
  }
  return parseRecord(schema, value);
}

/** The one line that says a file envoywasm reads back is not one it wrote. */
export function badRecord(file: string, problem: string): string {
  return `${file} is not a file this version of envoywasm wrote: ${problem}`;
}

/** "services.0.process.pid must be a whole number above 0 (got -1)": where, what it must be, what it is. */
export function issueLine(issue: v.BaseIssue<unknown>): string {
  const path = issue.path?.map((p) => String(p.key)).join(".") ?? "";
  const where = path === "" ? "it" : path;
  const last = issue.path?.at(-1);
  if (issue.kind === "schema" && last?.origin === "key" && issue.input === undefined) return `${where} is missing`;
  // A schema says what type it expects; an action (a check on a typed value) or a custom schema says it in its message.
  const expected = issue.kind === "schema" && issue.type !== "custom" && issue.expected !== null ? words(issue.expected) : issue.message;
  return `${where} must be ${expected} (got ${issue.received})`;
}

/** valibot's `("a" | "b")`, `Object`, `number` in words. */
function words(expected: string): string {
  const names: Record<string, string> = { Object: "an object", Array: "a list", string: "a string", number: "a number", boolean: "true or false" };
  const options = expected.replace(/^\((.*)\)$/, "$1").split(" | ");
  return options.map((o) => names[o] ?? o).join(" or ");
}

/**
 * Compile-time check for a schema of a type another module declares: its
 * output must be that type exactly, both ways and field by field, so neither
 * can gain a field the other lacks (an object schema drops what it does not
 * name, so a field missing here would vanish in transit).
 */
export type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/** Passes the schema through when its output is exactly T; a type error names the mismatch otherwise. */
export function schemaOf<T>() {
  return <S extends v.GenericSchema<unknown, T>>(schema: S & (Same<v.InferOutput<S>, T> extends true ? unknown : { mismatch: [v.InferOutput<S>, T] })): S =>
    schema;
}
