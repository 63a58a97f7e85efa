/**
 * Preloaded (`--import`) into each service `npm start` runs: the service exits when its stdin
 * closes, which happens when the process that started it goes, even by SIGKILL. A crashed
 * supervisor then leaves no service behind holding its port.
 */
if (!process.stdin.isTTY) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
