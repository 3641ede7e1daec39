import { ui } from "./output.js";

/**
 * A spinner (ora) on a colour TTY, plain lines otherwise, so logs in CI stay
 * readable. ora is imported only when a spinner is really drawn.
 */
export interface Progress {
  update(text: string): void;
  succeed(text: string): void;
  fail(text?: string): void;
  /** Stop drawing without a final line (e.g. before printing compiler output). */
  stop(): void;
}

export async function startProgress(text: string): Promise<Progress> {
  // A terminal that reports no width (a bare pty, some CI runners) makes ora
  // clear "Infinity" lines per frame and hang: draw plain lines there.
  const width = process.stderr.columns ?? 0;
  if (process.stderr.isTTY === true && width > 0 && !ui.json && ui.stderrColour) {
    const { default: ora } = await import("ora");
    const spinner = ora({ text, stream: process.stderr }).start();
    return {
      update: (t) => {
        spinner.text = t;
      },
      succeed: (t) => {
        spinner.succeed(t);
      },
      fail: (t) => {
        if (t === undefined) spinner.stop();
        else spinner.fail(t);
      },
      stop: () => {
        spinner.stop();
      },
    };
  }
  ui.info(`${text}…`);
  return {
    update: (t) => ui.info(`${t}…`),
    succeed: (t) => ui.success(t),
    fail: (t) => {
      if (t !== undefined) ui.info(t);
    },
    stop: () => {},
  };
}
