/**
 * Writing results to stdout at the pace of whoever reads them: a write
 * that fills the pipe waits for it to drain, so a large output is neither
 * held in memory nor cut short.
 */
export function writeOut(text: string): void | Promise<void> {
  if (process.stdout.write(text)) return;
  return new Promise<void>((resolve) => {
    const done = () => {
      process.stdout.off("drain", done);
      process.stdout.off("close", done);
      process.stdout.off("error", done);
      resolve();
    };
    process.stdout.once("drain", done);
    process.stdout.once("close", done);
    process.stdout.once("error", done);
  });
}

/** Resolves once everything written to the stream so far has been handed to the OS. */
export function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || stream.writableLength === 0) {
      resolve();
      return;
    }
    stream.once("error", () => resolve());
    stream.write("", () => resolve());
  });
}
