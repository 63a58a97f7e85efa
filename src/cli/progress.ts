/**
 * A progress bar on stderr for long work (scoring a big CSV, training): redrawn in place on a
 * terminal, a line every 10 % otherwise (CI logs), silent with --quiet.
 */
export interface Progress {
  update(done: number): void;
  finish(message?: string): void;
}

export function progressBar(label: string, total: number, options: { quiet?: boolean; stream?: NodeJS.WriteStream } = {}): Progress {
  const out = options.stream ?? process.stderr;
  if (options.quiet || total <= 0) return { update() {}, finish(m) { if (m && !options.quiet) out.write(`${m}\n`); } };
  const started = Date.now();
  let lastDecile = -1;
  let lastDraw = 0;
  const draw = (done: number) => {
    const share = Math.min(1, done / total);
    const pct = Math.floor(share * 100);
    const elapsed = (Date.now() - started) / 1000;
    const eta = share > 0 ? Math.max(0, elapsed / share - elapsed) : 0;
    if (out.isTTY) {
      const width = 30;
      const filled = Math.round(share * width);
      out.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(pct).padStart(3)}%  ${elapsed.toFixed(0)}s elapsed, ~${eta.toFixed(0)}s left `);
    } else if (Math.floor(pct / 10) > lastDecile) {
      lastDecile = Math.floor(pct / 10);
      out.write(`${label}: ${pct}%\n`);
    }
  };
  return {
    update(done) {
      const now = Date.now();
      if (now - lastDraw < 100 && done < total) return;
      lastDraw = now;
      draw(done);
    },
    finish(message) {
      draw(total);
      if (out.isTTY) out.write('\n');
      if (message) out.write(`${message}\n`);
    },
  };
}
