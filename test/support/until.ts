/** Waits until `check` holds, polling; fails naming what it waited for. */
export async function until(what: string, check: () => Promise<boolean> | boolean, options: { timeoutMs?: number; everyMs?: number } = {}): Promise<void> {
  const end = Date.now() + (options.timeoutMs ?? 60_000);
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, options.everyMs ?? 50));
  }
}
