/**
 * A container listing as one that pages sees it: each next item is read from a fresh listing, so
 * blobs written while the caller goes through it show up where they sort (Azure lists 5,000 at a time).
 */
export async function* relisting<T>(list: () => AsyncIterable<T>, nameOf: (item: T) => string): AsyncGenerator<T> {
  const seen = new Set<string>();
  for (;;) {
    let next: T | undefined;
    for await (const item of list()) if (next === undefined && !seen.has(nameOf(item))) next = item;
    if (next === undefined) return;
    seen.add(nameOf(next));
    yield next;
  }
}
