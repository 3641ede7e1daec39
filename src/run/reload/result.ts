/** How a reload ended: told on the terminal or in the supervisor's log, and sent back over the control socket. */
export interface ReloadResult {
  ok: boolean;
  /** One line: what changed, build and load time, which module serves. */
  message: string;
  hint?: string;
  /** True when nothing needed doing. */
  unchanged?: boolean;
}
