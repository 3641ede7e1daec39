import { describeTrap, type PluginTrap } from "./traps.js";
import { ui } from "../../ui/output.js";

/** Tells a plugin trap on stderr, as `up` and `logs` both do. */
export function reportTrap(trap: PluginTrap): void {
  const [first, ...rest] = describeTrap(trap);
  // One write: a reader of the stream never sees the trap without its frame and what follows.
  ui.info([`${ui.paint(["bold", "red"], "envoywasm:")} ${ui.paint("bold", first!)}`, ...rest].join("\n"));
}
