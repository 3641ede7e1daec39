// No vitest here: test/global-setup.ts (outside the test workers) uses it too, through engine.ts.

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 60_000, what = "a condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
