/**
 * Builds small but real WebAssembly modules, byte by byte, for tests of the
 * module checker: imports, exported functions with empty bodies, and an
 * exported memory. Every module it returns is one WebAssembly.compile accepts.
 *
 * Binary format: https://webassembly.github.io/spec/core/binary/modules.html
 */

export type ImportKind = "function" | "table" | "memory" | "global";

export interface WasmImport {
  module: string;
  name: string;
  /** "function" unless given. */
  kind?: ImportKind;
}

export interface ModuleSpec {
  imports?: readonly WasmImport[];
  /**
   * Export names. "memory" exports the module's memory (defined here, or the
   * imported one if there is a memory import); every other name exports a
   * function of its own, of type () -> ().
   */
  exports?: readonly string[];
  /** Initial pages of the module's own memory (default 1). */
  memoryPages?: number;
}

const SECTION = { type: 1, import: 2, function: 3, memory: 5, export: 7, code: 10 } as const;
const FUNC_TYPE = 0x60;
const I32 = 0x7f;
const FUNCREF = 0x70;
const END = 0x0b;
const DESC: Record<ImportKind, number> = { function: 0x00, table: 0x01, memory: 0x02, global: 0x03 };

/** Unsigned LEB128. */
export function uleb128(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb128(bytes.length), ...bytes];
}

function vector(items: readonly number[][]): number[] {
  return [...uleb128(items.length), ...items.flat()];
}

function section(id: number, contents: number[]): number[] {
  return [id, ...uleb128(contents.length), ...contents];
}

export function buildModule(spec: ModuleSpec): Uint8Array {
  const imports = spec.imports ?? [];
  const exports = spec.exports ?? [];
  const functionExports = exports.filter((e) => e !== "memory");
  const importsMemory = imports.some((i) => i.kind === "memory");
  const defineMemory = exports.includes("memory") && !importsMemory;
  const importedFunctions = imports.filter((i) => (i.kind ?? "function") === "function").length;

  const bytes: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  // One function type for everything: () -> ().
  bytes.push(...section(SECTION.type, vector([[FUNC_TYPE, 0x00, 0x00]])));
  if (imports.length > 0) {
    const entries = imports.map((imp) => {
      const kind = imp.kind ?? "function";
      const desc: number[] =
        kind === "function"
          ? [0x00] // type index 0
          : kind === "table"
            ? [FUNCREF, 0x00, 0x00] // funcref, limits: min 0, no max
            : kind === "memory"
              ? [0x00, 0x01] // limits: min 1 page, no max
              : [I32, 0x00]; // immutable i32
      return [...name(imp.module), ...name(imp.name), DESC[kind], ...desc];
    });
    bytes.push(...section(SECTION.import, vector(entries)));
  }
  if (functionExports.length > 0) {
    bytes.push(...section(SECTION.function, vector(functionExports.map(() => [0x00]))));
  }
  if (defineMemory) bytes.push(...section(SECTION.memory, vector([[0x00, ...uleb128(spec.memoryPages ?? 1)]])));
  if (exports.length > 0) {
    let nextFunction = importedFunctions;
    const entries = exports.map((e) => (e === "memory" ? [...name(e), DESC.memory, 0x00] : [...name(e), DESC.function, ...uleb128(nextFunction++)]));
    bytes.push(...section(SECTION.export, vector(entries)));
  }
  if (functionExports.length > 0) {
    // Each body: size, no locals, `end`.
    const body = [0x00, END];
    bytes.push(...section(SECTION.code, vector(functionExports.map(() => [...uleb128(body.length), ...body]))));
  }
  return new Uint8Array(bytes);
}
