/** Text that may or may not be JSON (a blob written by hand, an error message): its value, or undefined when it is not JSON. */
export function jsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * A value as JSON text for a message or an excerpt, cut to `max` characters; never throws, though
 * JSON.stringify does for a value nested too deep for its recursion (what a device sent: thousands
 * of levels fit in 256 KB) and for a cycle: then it says what the value is.
 */
export function jsonExcerpt(value: unknown, max: number): string {
  try {
    return (JSON.stringify(value) ?? String(value)).slice(0, max);
  } catch {
    // String() of nested arrays recurses too (it joins them): say what it is instead.
    if (Array.isArray(value)) return '[… nested too deep to show]';
    return (typeof value === 'object' && value !== null ? '{… not shown as JSON}' : String(value)).slice(0, max);
  }
}
