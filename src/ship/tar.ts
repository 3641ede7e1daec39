/**
 * Tar archives made in memory, the same bytes for the same files: every entry
 * has mtime 0, uid/gid 0, no user or group names and mode 0644, so an image
 * layer's digest depends on the module alone.
 */

export interface TarFile {
  name: string;
  data: Uint8Array;
}

export async function tarFiles(files: readonly TarFile[]): Promise<Buffer> {
  const { default: tar } = await import("tar-stream");
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    pack.on("data", (chunk: unknown) => chunks.push(chunk as Buffer));
    pack.on("end", () => resolve(Buffer.concat(chunks)));
    pack.on("error", reject);
  });
  for (const file of files) {
    pack.entry(
      { name: file.name, size: file.data.length, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0, uname: "", gname: "", type: "file" },
      Buffer.from(file.data),
    );
  }
  pack.finalize();
  return done;
}
