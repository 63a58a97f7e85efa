/**
 * IoT Hub shared access signatures as the local hub checks them: a device gets in with a token
 * signed by one of the hub's keys for its own resource, before it expires, and with nothing else.
 */
import { describe, expect, it } from 'vitest';
import { makeSas, parseSas, signature, verifySas } from '../../src/emulators/sas.ts';

const KEY = Buffer.from('device-key-0123456789abcdef').toString('base64');
const OTHER_KEY = Buffer.from('another-key-0123456789abcde').toString('base64');
const RESOURCE = 'hub.local/devices/robotic-arm-001';
const NOW = 1_800_000_000;

describe('a device token', () => {
  it('is accepted for its resource (in any case) signed by any of the keys, and says when it expires', () => {
    const token = makeSas(RESOURCE, KEY, NOW + 60);
    expect(verifySas(token, RESOURCE, [KEY], NOW)).toEqual({ ok: true, expiresAtSeconds: NOW + 60 });
    expect(verifySas(token, RESOURCE.toUpperCase(), [OTHER_KEY, KEY], NOW)).toEqual({ ok: true, expiresAtSeconds: NOW + 60 });
    expect(verifySas(`  ${token}  `, RESOURCE, [KEY], NOW).ok).toBe(true);
    expect(verifySas(token.replace('SharedAccessSignature ', 'SharedAccessSignature \t '), RESOURCE, [KEY], NOW).ok).toBe(true);
  });

  it('carries the policy name when it has one', () => {
    expect(makeSas(RESOURCE, KEY, NOW, 'iothubowner')).toMatch(/&skn=iothubowner$/);
    expect(parseSas(makeSas(RESOURCE, KEY, NOW, 'iothubowner'))).toEqual({ sr: encodeURIComponent(RESOURCE), sig: expect.any(String), se: NOW, skn: 'iothubowner' });
    expect(makeSas(RESOURCE, KEY, NOW)).not.toContain('skn');
    expect(parseSas(makeSas(RESOURCE, KEY, NOW))!.skn).toBeUndefined();
  });

  it('is expired at its expiry second, not only after it', () => {
    const token = makeSas(RESOURCE, KEY, NOW);
    expect(verifySas(token, RESOURCE, [KEY], NOW)).toEqual({ ok: false, reason: 'expired' });
    expect(verifySas(token, RESOURCE, [KEY], NOW - 1).ok).toBe(true);
  });

  it('is refused for another resource, another key, or a signature of another length', () => {
    expect(verifySas(makeSas('hub.local/devices/robotic-arm-002', KEY, NOW + 60), RESOURCE, [KEY], NOW)).toEqual({ ok: false, reason: 'wrongResource' });
    expect(verifySas(makeSas(RESOURCE, OTHER_KEY, NOW + 60), RESOURCE, [KEY], NOW)).toEqual({ ok: false, reason: 'badSignature' });
    const sr = encodeURIComponent(RESOURCE);
    const short = Buffer.from(signature(KEY, sr, NOW + 60), 'base64').subarray(0, 16).toString('base64');
    expect(verifySas(`SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(short)}&se=${NOW + 60}`, RESOURCE, [KEY], NOW)).toEqual({ ok: false, reason: 'badSignature' });
    expect(verifySas(makeSas(RESOURCE, KEY, NOW + 60), RESOURCE, [], NOW)).toEqual({ ok: false, reason: 'badSignature' });
  });

  it('is refused as malformed when it is not a SharedAccessSignature with sr, sig and a numeric se', () => {
    const good = makeSas(RESOURCE, KEY, NOW + 60);
    const body = good.slice('SharedAccessSignature '.length);
    const sr = encodeURIComponent(RESOURCE);
    const sig = encodeURIComponent(signature(KEY, sr, NOW + 60));
    for (const token of [
      '',
      body,
      `Bearer ${body}`,
      `xSharedAccessSignature ${body}`,
      `SharedAccessSignature${body}`,
      'SharedAccessSignature ',
      `SharedAccessSignature sig=${sig}&se=${NOW + 60}`,
      `SharedAccessSignature sr=${sr}&se=${NOW + 60}`,
      `SharedAccessSignature sr=${sr}&sig=${sig}`,
      `SharedAccessSignature sr=${sr}&sig=${sig}&se=soon`,
      `SharedAccessSignature sr=${sr}&sig=&se=${NOW + 60}`,
      `SharedAccessSignature sr=%E0%A4%A&sig=${sig}&se=${NOW + 60}`,
      `${good}\nsr=${sr}`,
    ]) {
      expect(verifySas(token, RESOURCE, [KEY], NOW), token).toEqual({ ok: false, reason: 'malformed' });
    }
    expect(verifySas(`SharedAccessSignature sr=${sr}&sig=%E0%A4%A&se=${NOW + 60}`, RESOURCE, [KEY], NOW)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('ignores a field without a name, and reads the rest in any order', () => {
    const sr = encodeURIComponent(RESOURCE);
    const sig = encodeURIComponent(signature(KEY, sr, NOW + 60));
    expect(verifySas(`SharedAccessSignature se=${NOW + 60}&=junk&sig=${sig}&sr=${sr}`, RESOURCE, [KEY], NOW).ok).toBe(true);
    // "=sr=..." is a nameless field, not the resource.
    expect(parseSas(`SharedAccessSignature =sr=${sr}&sig=${sig}&se=${NOW + 60}`)).toBeUndefined();
  });
});
