import { describe, expect, it } from 'vitest';
import { RecentKeys } from '../../src/lib/telemetry/recent-keys.ts';

describe('recent readings per device', () => {
  it('recognises a replay whether it comes in order or late, and keeps devices apart', () => {
    const recent = new RecentKeys(8);
    expect(recent.addIfAbsent('a', 'a|m:1', 1)).toBe(true);
    expect(recent.addIfAbsent('a', 'a|m:2', 2)).toBe(true);
    expect(recent.addIfAbsent('a', 'a|m:1', 1)).toBe(false);
    expect(recent.addIfAbsent('a', 'a|m:2', 2)).toBe(false);
    expect(recent.addIfAbsent('b', 'a|m:1', 1)).toBe(true);
    expect(recent.addIfAbsent('a', 'a|m:late', 0)).toBe(true); // older but new: not a replay
  });

  it('forgets what a failed batch recorded, so its retry goes through', () => {
    const recent = new RecentKeys(8);
    recent.addIfAbsent('a', 'k1', 1);
    recent.addIfAbsent('a', 'k2', 2);
    recent.forget('a', 'k2');
    expect(recent.addIfAbsent('a', 'k2', 2)).toBe(true);
    expect(recent.addIfAbsent('a', 'k1', 1)).toBe(false);
  });

  it('remembers only the last N readings of a device', () => {
    const recent = new RecentKeys(4);
    for (let i = 0; i < 10; i++) recent.addIfAbsent('a', `k${i}`, i);
    expect(recent.addIfAbsent('a', 'k9', 9)).toBe(false);
    expect(recent.addIfAbsent('a', 'k0', 0)).toBe(true);
  });

  it('still knows the other readings right after forgetting one, the newest included', () => {
    const recent = new RecentKeys(8);
    recent.addIfAbsent('a', 'k1', 1);
    recent.addIfAbsent('a', 'k3', 3);
    recent.addIfAbsent('a', 'k2', 2);
    recent.forget('a', 'k2');
    expect(recent.addIfAbsent('a', 'k1', 1)).toBe(false);
    expect(recent.addIfAbsent('a', 'k3', 3)).toBe(false);
    recent.forget('a', 'k3');
    expect(recent.addIfAbsent('a', 'k1', 1)).toBe(false);
  });

  it('forgets nothing it never recorded, for a known device or an unknown one', () => {
    const recent = new RecentKeys(8);
    recent.addIfAbsent('a', 'k1', 1);
    expect(() => recent.forget('nobody', 'k1')).not.toThrow();
    recent.forget('a', 'never');
    expect(recent.addIfAbsent('a', 'k1', 1)).toBe(false);
  });

  it('recognises a replay of the newest reading after a late one arrived', () => {
    const recent = new RecentKeys(8);
    recent.addIfAbsent('a', 'k5', 5);
    recent.addIfAbsent('a', 'k3', 3);
    expect(recent.addIfAbsent('a', 'k5', 5)).toBe(false);
  });
});
