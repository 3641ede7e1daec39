import path from "node:path";
import { readConfigText } from "./config-lines.js";

/** One explanation of a failure, with a way out. */
export interface Diagnosis {
  message: string;
  hint: string;
}

/** Where the project is as Envoy sees it, to explain a file it cannot read from the file itself. */
export interface FileContext {
  root: string;
  /** The user's envoy.yaml, to name the line that mentions the file. */
  envoyConfig?: string;
  /** In Docker: where the project is mounted, and the user ("uid:gid", other groups) the container runs as, with no capabilities. */
  container?: { mount: string; user: string; groups: number[] };
}

/** `envoy.yaml:LINE` (the user's file, never the config derived from it), or just the file's name. */
export function where(files: FileContext | undefined, line: number | undefined): string {
  const name = files?.envoyConfig === undefined ? "envoy.yaml" : path.relative(files.root, files.envoyConfig) || files.envoyConfig;
  return line === undefined ? name : `${name}:${line}`;
}

/**
 * Envoy's validation names the field as a chain of messages:
 * `BootstrapValidationError.StaticResources: embedded message failed validation | caused by
 * …SocketAddressValidationError.PortValue: value must be less than or equal to 65535`.
 * The fields, snake_cased, are the path in envoy.yaml (from its root for a Bootstrap,
 * else from inside a nested message such as an HttpConnectionManager).
 */
export function constraintViolation(detail: string, files: FileContext | undefined): Diagnosis {
  const links = detail.split(/\s*\|\s*caused by\s*/).map((part) => /^(\w+)ValidationError\.(\w+)((?:\[\d+\])*):\s*(.*)$/.exec(part.trim()));
  const usable = links.every((l) => l !== null) && links.length > 0;
  if (!usable) return { message: `${where(files, undefined)}: ${detail}`, hint: "fix envoy.yaml" };
  const snake = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
  const steps = links.map((l) => `${snake(l![2]!)}${l![3]}`);
  const field = steps.at(-1)!.replace(/\[\d+\]$/, "");
  const reason = links.at(-1)![4]!;
  const config = files?.envoyConfig === undefined ? undefined : readConfigText(files.envoyConfig);
  const parent = steps.slice(0, -1).join(".");
  const line = links[0]![1] === "Bootstrap" ? config?.lineOf(parent, field) : config?.lineOfNested(parent, field);
  return { message: `${where(files, line)}: ${field}: ${reason}`, hint: `fix ${steps.join(".")} in envoy.yaml` };
}

export function unknownField(field: string, protoPath: string, type: string | undefined, files: FileContext | undefined): Diagnosis {
  const line = files?.envoyConfig === undefined ? undefined : readConfigText(files.envoyConfig)?.lineOf(protoPath, field);
  const inType = type === undefined ? (protoPath === "" ? "" : ` in ${protoPath}`) : ` of ${type.split(".").at(-1)}`;
  return {
    message: `${where(files, line)}: unknown field "${field}"${inType}`,
    hint: `check its spelling against Envoy's API reference${type === undefined ? "" : ` for ${type}`}`,
  };
}
