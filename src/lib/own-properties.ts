/**
 * Keys that come from outside (a device's message properties, a body's names) are looked up and
 * set as own properties only: `constructor` or `toString` is then a name like any other, never
 * what every object inherits, and `__proto__` a key, never the object's prototype.
 */

/** A record without a prototype: a plain lookup finds only what was stored, whatever the key. */
export const dict = <T>() => Object.create(null) as Record<string, T>;

/** The value `record` has itself under `key`. */
export function ownValue<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** Sets an own property even for a name such as `__proto__` on an object that has a prototype. */
export function defineOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
