import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { deflateSync, gzipSync } from 'node:zlib';
import { propertyRuns } from '../support/property-runs.ts';
import { decodeBatch, MAX_INFLATED_BYTES } from '../../src/lib/telemetry/decode.ts';
import { nonFiniteAsNull } from '../../src/lib/telemetry/non-finite.ts';
import { ENVELOPE_FIELDS } from '../../src/lib/telemetry/reading.ts';
import { utcIsoTime } from '../../src/lib/telemetry/time.ts';
import { batch, iso } from '../support/plant.ts';

const now = Date.parse('2026-11-25T10:00:00Z');
const opts = { now, maxClockSkewMs: 60_000 };

describe('decoding what the Event Hub trigger hands over', () => {
  it('reads the device id IoT Hub authenticated, the message id and the source time', () => {
    const { bodies, meta } = batch([{ device: 'robotic-arm-001', messageId: 'm-1', body: { timestamp: iso(now - 1000), temperature: 70.5, status: 'running' } }], '3', 41);
    const { readings, deadLetters } = decodeBatch(bodies, meta, opts);
    expect(deadLetters).toEqual([]);
    expect(readings).toEqual([
      expect.objectContaining({ deviceId: 'robotic-arm-001', messageId: 'm-1', time: now - 1000, key: `robotic-arm-001|m:m-1@${now - 1000}`, partitionId: '3', sequenceNumber: 41, values: { temperature: 70.5, status: 'running' } }),
    ]);
  });

  it('accepts bodies as strings, bytes or already-parsed objects, and arrays of readings', () => {
    const body = { timestamp: iso(now), speed: 1.2 };
    const meta = { systemPropertiesArray: [{ 'iothub-connection-device-id': 'c' }, { 'iothub-connection-device-id': 'c' }, { 'iothub-connection-device-id': 'c' }, { 'iothub-connection-device-id': 'c' }] };
    const { readings } = decodeBatch(
      [JSON.stringify(body), Buffer.from(JSON.stringify({ ...body, seq: 2 })), { ...body, seq: 3 }, [{ ...body, seq: 4 }, { ...body, seq: 5 }]],
      meta,
      opts,
    );
    // Numbered by nothing: keyed by its time and what it says (another reading of the same instant says something else).
    expect(readings.map((r) => r.key)).toEqual([expect.stringMatching(new RegExp(`^c\\|t:${now}#[\\w-]{16}$`)), `c|s:2@${now}`, `c|s:3@${now}`, `c|s:4@${now}`, `c|s:5@${now}`]);
  });

  it('reads a body that begins with a UTF-8 byte order mark (a .NET or PowerShell device), as bytes or as the text the host made of them, and only there', () => {
    const json = JSON.stringify({ timestamp: iso(now), speed: 1.2 });
    const meta = { systemPropertiesArray: Array.from({ length: 4 }, () => ({ 'iothub-connection-device-id': 'c' })) };
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)]);
    const { readings, deadLetters } = decodeBatch([withBom, new Uint8Array(withBom), `\uFEFF${json}`, `{"speed":1.2,\uFEFF"load":3}`], meta, opts);
    expect(readings.map((r) => r.values)).toEqual([{ speed: 1.2 }, { speed: 1.2 }, { speed: 1.2 }]);
    // A mark anywhere else is no JSON, and is said to be so.
    expect(deadLetters.map((d) => [d.event, d.reason])).toEqual([[3, 'body.notJson']]);
  });

  it('reads UTF-16 and UTF-32 bodies (IoT Hub routes them as text), in either byte order, with or without a byte order mark, whatever the message declares', () => {
    const device = { 'iothub-connection-device-id': 'c' };
    fc.assert(
      fc.property(
        fc.record({ speed: fc.double({ noNaN: true, noDefaultInfinity: true }), status: fc.string({ unit: 'grapheme', maxLength: 12 }), note: fc.string({ unit: 'binary', maxLength: 6 }) }),
        fc.constantFrom(...ENCODINGS),
        fc.boolean(),
        fc.constantFrom(undefined, 'utf-8', 'utf-16', 'UTF-32', 'gzip'),
        (values, encoding, mark, declared) => {
          const body = encode(JSON.stringify({ timestamp: iso(now), ...values }), encoding, mark);
          const { readings, deadLetters } = decodeBatch([body], { systemPropertiesArray: [{ ...device, ...(declared ? { 'content-encoding': declared } : {}) }] }, opts);
          expect(deadLetters).toEqual([]);
          expect(readings[0]!.values).toEqual(JSON.parse(JSON.stringify(values)));
        },
      ),
      propertyRuns(1616, 300),
    );
  });

  it('reads a compressed body (gzip, or zlib at any window size), of any of those encodings, whatever the message declares', () => {
    const device = { 'iothub-connection-device-id': 'c' };
    fc.assert(
      fc.property(
        fc.array(fc.record({ speed: fc.double({ noNaN: true, noDefaultInfinity: true }), status: fc.string({ unit: 'grapheme', maxLength: 12 }) }), { minLength: 1, maxLength: 40 }),
        fc.constantFrom(...ENCODINGS),
        fc.boolean(),
        fc.constantFrom('gzip', 'zlib'),
        fc.integer({ min: 0, max: 9 }),
        fc.integer({ min: 9, max: 15 }),
        fc.constantFrom(undefined, 'gzip', 'deflate', 'utf-8'),
        (values, encoding, mark, format, level, windowBits, declared) => {
          const text = encode(JSON.stringify(values.map((v) => ({ timestamp: iso(now), ...v }))), encoding, mark);
          const body = format === 'gzip' ? gzipSync(text, { level }) : deflateSync(text, { level, windowBits });
          const { readings, deadLetters } = decodeBatch([body], { systemPropertiesArray: [{ ...device, ...(declared ? { 'content-encoding': declared } : {}) }] }, opts);
          expect(deadLetters).toEqual([]);
          expect(readings.map((r) => r.values)).toEqual(JSON.parse(JSON.stringify(values)));
        },
      ),
      propertyRuns(1617, 200),
    );
  });

  it('refuses a compressed body that does not inflate, or inflates past its bound, with a reason, and reads the rest of the batch', () => {
    const json = JSON.stringify({ timestamp: iso(now), speed: 1.2 });
    const bomb = gzipSync(Buffer.alloc(MAX_INFLATED_BYTES + 1, 0x20));
    const truncated = gzipSync(json).subarray(0, 12);
    const inflatesToJunk = deflateSync('temperature=71.2;speed=1.2');
    const meta = { systemPropertiesArray: Array.from({ length: 5 }, () => ({ 'iothub-connection-device-id': 'c', 'content-encoding': 'gzip' })) };
    const { readings, deadLetters } = decodeBatch([bomb, truncated, inflatesToJunk, gzipSync(json), Buffer.from('80')], meta, opts);
    expect(readings.map((r) => r.values)).toEqual([{ speed: 1.2 }]);
    expect(deadLetters.map((d) => [d.event, d.reason, d.detail])).toEqual([
      [0, 'body.tooLarge', `gzip body inflates beyond ${MAX_INFLATED_BYTES} bytes (four times IoT Hub's largest message)`],
      [1, 'body.notJson', 'body is gzip but does not inflate: unexpected end of file'],
      [2, 'body.notJson', expect.stringMatching(/^body is not JSON \(read as zlib-compressed UTF-8; the message declares content encoding 'gzip'\): /)],
      // '80' is a zlib header with a 2 KB window as well as a JSON number: it does not inflate, so it is read as the number it is.
      [4, 'body.notObject', 'a reading must be a JSON object of telemetry values'],
    ]);
    // What was refused after inflating is excerpted as its text, so the row says what the device sent.
    expect(deadLetters[2]!.body).toBe('temperature=71.2;speed=1.2');
  });

  it('accounts for every event of any bytes, compressed, truncated or not: a reading or a reason, never a throw (property)', () => {
    const bytes = fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b));
    const json = fc.json({ maxDepth: 2 }).map((j) => Buffer.from(j));
    const body = fc.oneof(
      bytes,
      json,
      fc.tuple(fc.oneof(bytes, json), fc.constantFrom('gzip', 'zlib'), fc.nat({ max: 400 })).map(([b, format, cut]) => {
        const packed = format === 'gzip' ? gzipSync(b) : deflateSync(b);
        return packed.subarray(0, cut === 0 ? packed.length : Math.min(packed.length, cut));
      }),
      // The headers alone, then anything.
      fc.tuple(fc.constantFrom([0x1f, 0x8b], [0x78, 0x9c], [0x38, 0x30], [0x08, 0x1d]), bytes).map(([head, rest]) => Buffer.concat([Buffer.from(head), rest])),
    );
    fc.assert(
      fc.property(fc.array(body, { minLength: 1, maxLength: 6 }), (bodies) => {
        const { readings, deadLetters } = decodeBatch(bodies, { systemPropertiesArray: bodies.map(() => ({ 'iothub-connection-device-id': 'c' })) }, opts);
        const accounted = new Set([...readings.map((r) => r.event), ...deadLetters.map((d) => d.event)]);
        expect([...accounted].sort((a, b) => a - b)).toEqual(bodies.map((_, i) => i));
        for (const d of deadLetters) expect(d.detail.length).toBeGreaterThan(0);
      }),
      propertyRuns(1619, 300),
    );
  });

  it('says why a body in another encoding or none is refused, and keeps an excerpt one can read', () => {
    const meta = (declared?: string) => ({ systemPropertiesArray: [{ 'iothub-connection-device-id': 'c', ...(declared ? { 'content-encoding': declared } : {}) }] });
    const odd = Buffer.concat([Buffer.from('{"speed":1}', 'utf16le'), Buffer.from([0x20])]);
    expect(decodeBatch([odd], meta('utf-16'), opts).deadLetters[0]).toMatchObject({ reason: 'body.notJson', detail: expect.stringMatching(/UTF-16LE text .* 23 bytes are not whole 2-byte units/) });
    const avro = Buffer.from([0x4f, 0x62, 0x6a, 0x01, 0x04, 0x14]);
    expect(decodeBatch([avro], meta('avro'), opts).deadLetters[0]!.detail).toMatch(/^body is not JSON \(read as UTF-8; the message declares content encoding 'avro'\): /);
    const broken = encode('{"status":"Störung",', 'utf-16be', false);
    expect(decodeBatch([broken], meta(), opts).deadLetters[0]).toMatchObject({ detail: expect.stringMatching(/^body is not JSON \(read as UTF-16BE\): /), body: '{"status":"Störung",' });
  });

  it('keeps a rebooted device\'s readings apart from those before it: same message id, another time', () => {
    const before = batch([{ device: 'd', messageId: 'd:0', body: { timestamp: iso(now - 60_000), temperature: 20 } }]);
    const after = batch([{ device: 'd', messageId: 'd:0', body: { timestamp: iso(now), temperature: 21 } }]);
    const [a] = decodeBatch(before.bodies, before.meta, opts).readings;
    const [b] = decodeBatch(after.bodies, after.meta, opts).readings;
    expect(a!.key).not.toBe(b!.key);
    // A replay of one message is still the same reading.
    expect(decodeBatch(after.bodies, after.meta, opts).readings[0]!.key).toBe(b!.key);
  });

  it('reads a device\'s time exactly as Date.parse does (a time without a zone as UTC), and refuses a day or hour that does not exist', () => {
    const two = (lo: number, hi: number) => fc.integer({ min: lo, max: hi }).map((n) => String(n).padStart(2, '0'));
    const text = fc
      .tuple(fc.integer({ min: 1990, max: 2030 }), two(0, 13), two(0, 32), two(0, 25), two(0, 61), two(0, 61), fc.stringMatching(/^(\.\d{0,9})?$/), fc.constantFrom('Z', 'z', '+00:00', ''))
      .map(([y, mo, d, h, mi, sec, fraction, zone]) => `${y}-${mo}-${d}T${h}:${mi}:${sec}${fraction}${zone}`);
    fc.assert(
      fc.property(text, (timestamp) => {
        const { bodies, meta } = batch([{ device: 'd', body: { timestamp, temperature: 1 } }]);
        const { readings, deadLetters } = decodeBatch(bodies, meta, { now: Date.UTC(2031, 0, 1), maxClockSkewMs: 0 });
        const parsed = Date.parse(/(Z|z|[+-]\d\d:\d\d)$/.test(timestamp) ? timestamp : `${timestamp}Z`);
        // V8 rolls a day or hour that does not exist over (30 February is 1 March): a round trip of the fields tells.
        const [y, mo, d, h, mi, sec] = timestamp.slice(0, 19).split(/[-T:]/).map(Number) as [number, number, number, number, number, number];
        const u = new Date(Date.UTC(y, mo - 1, d, h, mi, sec));
        const exists = u.getUTCFullYear() === y && u.getUTCMonth() === mo - 1 && u.getUTCDate() === d && u.getUTCHours() === h && u.getUTCMinutes() === mi && u.getUTCSeconds() === sec;
        const real = !Number.isNaN(parsed) && parsed >= Date.UTC(2000, 0, 1) && exists;
        if (!real) {
          expect(readings).toEqual([]);
          expect(deadLetters[0]!.reason).toBe('envelope.badTimestamp');
          return;
        }
        expect(readings[0]!.time).toBe(parsed);
        expect(readings[0]!.timeIso).toBe(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/.test(timestamp) ? timestamp : new Date(parsed).toISOString());
      }),
      propertyRuns(20261204, 3000),
    );
  });

  it('reads any UTC ISO time of years 0000 to 9999 field by field to the millisecond Date.parse gives, a longer fraction cut as V8 cuts it', () => {
    const instant = fc.integer({ min: Date.UTC(0, 0, 1) - 1900 * 365.2425 * 86_400_000, max: Date.UTC(9999, 11, 31, 23, 59, 59, 999) });
    fc.assert(
      fc.property(instant, fc.stringMatching(/^\d{0,6}$/), (ms, extra) => {
        const iso = new Date(ms).toISOString();
        fc.pre(iso.length === 24); // four-digit years only
        for (const text of [iso, `${iso.slice(0, 19)}Z`, `${iso.slice(0, 23)}${extra}Z`, `${iso.slice(0, 20)}${extra}Z`]) {
          const expected = Date.parse(text);
          expect(utcIsoTime(text)).toBe(expected);
        }
      }),
      propertyRuns(20261205, 3000),
    );
    for (const text of ['2024-01-01T00:00:00.Z', '2024-01-01T24:00:00Z', '2023-02-29T00:00:00Z', '2024-01-01T00:00:60Z', '2024-01-01 00:00:00Z', '2024-01-01T00:00:00+00:00', '2024-01-01T00:00:00.1234567890Z', '+02024-01-01T00:00:00Z']) {
      expect(utcIsoTime(text), text).toBeNaN();
    }
  });

  it('reads a device time sent without a zone as UTC, whatever zone the host runs in', () => {
    const { bodies, meta } = batch([
      { device: 'd', body: { timestamp: '2026-07-01T10:00:00', temperature: 1 } },
      { device: 'd', body: { timestamp: '2026-07-01 10:00:01.5', temperature: 2 } },
    ]);
    const zone = process.env.TZ;
    try {
      const times = ['UTC', 'Europe/Berlin', 'America/Los_Angeles'].map((tz) => {
        process.env.TZ = tz;
        return decodeBatch(bodies, meta, opts).readings.map((r) => r.timeIso);
      });
      for (const t of times) expect(t).toEqual(['2026-07-01T10:00:00.000Z', '2026-07-01T10:00:01.500Z']);
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });

  it('reads 29 February in a leap year', () => {
    const { bodies, meta } = batch([{ device: 'd', body: { timestamp: '2024-02-29T10:00:00Z', temperature: 1 } }]);
    expect(decodeBatch(bodies, meta, { now, maxClockSkewMs: 0 }).readings[0]!.timeIso).toBe('2024-02-29T10:00:00Z');
  });

  it('reads epoch milliseconds written as text, as gateways that send every value as a string send them', () => {
    const { bodies, meta } = batch([{ device: 'd', body: { timestamp: String(now - 1000), temperature: 1 } }, { device: 'd', body: { timestamp: ` ${now - 500} `, temperature: 2 } }]);
    const { readings, deadLetters } = decodeBatch(bodies, meta, opts);
    expect(deadLetters).toEqual([]);
    expect(readings.map((r) => [r.time, r.timeIso])).toEqual([[now - 1000, iso(now - 1000)], [now - 500, iso(now - 500)]]);
  });

  it("reads the NaN and Infinity Python's json module writes as values not measured (null), and nothing inside a string", () => {
    const text = (values: string) => Buffer.from(`{"timestamp":"${iso(now - 1000)}",${values}}`);
    const meta = { systemPropertiesArray: [0, 1, 2, 3].map(() => ({ 'iothub-connection-device-id': 'gw' })) };
    const { readings, deadLetters } = decodeBatch(
      [text('"temperature": NaN, "vibration": 0.3, "note": "NaN, Infinity \\" -Infinity"'), text('"pressure": Infinity, "load": -Infinity'), text('"temperature": NaNa'), text('"temperature": nan')],
      meta,
      opts,
    );
    expect(readings.map((r) => r.values)).toEqual([{ temperature: null, vibration: 0.3, note: 'NaN, Infinity " -Infinity' }, { pressure: null, load: null }]);
    // Not a token Python writes: refused as before, with JSON.parse's own words.
    expect(deadLetters.map((d) => [d.reason, d.body])).toEqual([['body.notJson', expect.stringContaining('NaNa')], ['body.notJson', expect.stringContaining('nan')]]);
    expect(deadLetters[0]!.detail).toMatch(/^body is not JSON \(read as UTF-8\): /);
  });

  it("leaves JSON alone, strings that say NaN or Infinity included, and turns Python's tokens among any JSON values into null (property)", () => {
    const word = fc.constantFrom('NaN', 'Infinity', '-Infinity', '"', '\\', 'a', ' ', '\n');
    const text = fc.array(word, { maxLength: 8 }).map((w) => w.join(''));
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, fc.double(), fc.constantFrom(NaN, Infinity, -Infinity), text, fc.boolean(), fc.constant(null), fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(text, tie('v'), { maxKeys: 4 })),
    })).v;
    // What Python's json.dumps writes: JSON, but a float that is not finite as its bare token.
    const python = (v: unknown): string =>
      typeof v === 'number' ? (Number.isNaN(v) ? 'NaN' : v === Infinity ? 'Infinity' : v === -Infinity ? '-Infinity' : JSON.stringify(v))
      : Array.isArray(v) ? `[${v.map(python).join(', ')}]`
      : v !== null && typeof v === 'object' ? `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${python(x)}`).join(', ')}}`
      : JSON.stringify(v);
    fc.assert(
      fc.property(value, (v) => {
        const written = python(v);
        const read = nonFiniteAsNull(written);
        // JSON (as JSON.stringify writes every value, a non-finite number as null) is never touched; Python's text reads as it.
        expect(nonFiniteAsNull(JSON.stringify(v))).toBeUndefined();
        expect(JSON.parse(read ?? written)).toEqual(JSON.parse(JSON.stringify(v)));
      }),
      propertyRuns(4101, 300),
    );
  });

  it("reads epoch seconds (a Unix clock's time(), Python's time.time() with its fraction), which as milliseconds would be 1970", () => {
    const s = Math.floor(now / 1000) - 60;
    const { bodies, meta } = batch([{ device: 'd', body: { timestamp: s, temperature: 1 } }, { device: 'd', body: { timestamp: `${s + 1}.25`, temperature: 2 } }, { device: 'd', body: { timestamp: s + 2.5, temperature: 3 } }]);
    const { readings, deadLetters } = decodeBatch(bodies, meta, opts);
    expect(deadLetters).toEqual([]);
    expect(readings.map((r) => [r.time, r.timeIso])).toEqual([[s * 1000, iso(s * 1000)], [s * 1000 + 1250, iso(s * 1000 + 1250)], [s * 1000 + 2500, iso(s * 1000 + 2500)]]);
  });

  it('falls back to the enqueued time when the device sends no timestamp', () => {
    const { bodies, meta } = batch([{ device: 'd', body: { load: 3 }, enqueued: now - 5 }]);
    expect(decodeBatch(bodies, meta, opts).readings[0]!.time).toBe(now - 5);
  });

  const bad: { name: string; body: unknown; device?: string; reason: string; detail: RegExp }[] = [
    { name: 'no device id (not from IoT Hub)', body: { temperature: 1 }, device: '', reason: 'envelope.noDevice', detail: /iothub-connection-device-id/ },
    { name: 'a body that is not JSON', body: '{"temperature": 7', reason: 'body.notJson', detail: /not JSON/ },
    { name: 'a JSON body that is not an object', body: '42', reason: 'body.notObject', detail: /JSON object/ },
    { name: 'an empty array', body: '[]', reason: 'body.empty', detail: /empty array/ },
    { name: 'a body over IoT Hub\'s 256 KB', body: JSON.stringify({ temperature: 1, pad: 'x'.repeat(300_000) }), reason: 'body.tooLarge', detail: /256/ },
    { name: 'a body claiming another device', body: { deviceId: 'someone-else', temperature: 1 }, reason: 'envelope.deviceMismatch', detail: /authenticated d/ },
    { name: 'an unreadable timestamp', body: { timestamp: 'yesterday', temperature: 1 }, reason: 'envelope.badTimestamp', detail: /not an ISO 8601/ },
    { name: 'a day that does not exist (V8 would read it as 1 March)', body: { timestamp: '2024-02-30T10:00:00Z', temperature: 1 }, reason: 'envelope.badTimestamp', detail: /not an ISO 8601/ },
    { name: 'an hour that does not exist', body: { timestamp: '2026-11-25T24:30:00+01:00', temperature: 1 }, reason: 'envelope.badTimestamp', detail: /not an ISO 8601/ },
    { name: 'a time in epoch seconds ahead of the clock', body: { timestamp: Math.floor(now / 1000) + 3_600, temperature: 1 }, reason: 'envelope.futureTimestamp', detail: /^timestamp 20\d\d-.* \(read as epoch seconds\) is in the future/ },
    { name: 'a time before 2000 that is no epoch seconds either', body: { timestamp: 86_400_000, temperature: 1 }, reason: 'envelope.badTimestamp', detail: /^timestamp 1970-01-02T00:00:00.000Z is before 2000$/ },
    { name: 'a telemetry name that would set the prototype', body: '{"timestamp": "2026-11-25T09:59:00Z", "__proto__": {"x": 1}, "temperature": 1}', reason: 'telemetry.badName', detail: /__proto__/ },
    { name: 'a timestamp in the future', body: { timestamp: iso(now + 3_600_000), temperature: 1 }, reason: 'envelope.futureTimestamp', detail: /in the future/ },
    { name: 'a negative sequence number', body: { seq: -1, temperature: 1 }, reason: 'envelope.badSeq', detail: /non-negative/ },
    { name: 'no telemetry at all', body: { timestamp: iso(now) }, reason: 'telemetry.empty', detail: /no telemetry/ },
  ];

  it.each(bad)('dead-letters $name with a reason, and keeps the rest of the batch', ({ body, device, reason, detail }) => {
    const { bodies, meta } = batch([
      // Enqueued at the test's own clock: a body without a timestamp takes that time.
      { device: device ?? 'd', body, enqueued: now },
      { device: 'good', body: { timestamp: iso(now), temperature: 20 }, enqueued: now },
    ]);
    if (device === '') delete meta.systemPropertiesArray![0]!['iothub-connection-device-id'];
    const { readings, deadLetters } = decodeBatch(bodies, meta, opts);
    expect(readings.map((r) => r.deviceId)).toEqual(['good']);
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]).toMatchObject({ reason, partitionId: '0', sequenceNumber: 0 });
    expect(deadLetters[0]!.detail).toMatch(detail);
    expect(deadLetters[0]!.body.length).toBeLessThanOrEqual(2048);
  });

  it('does not count its envelope fields as telemetry: a body of only timestamp, seq, deviceId and messageId carries none', () => {
    for (const extra of [{ seq: 1 }, { deviceId: 'd' }, { messageId: 'm' }, {}]) {
      const { bodies, meta } = batch([{ device: 'd', body: { timestamp: iso(now), ...extra } }]);
      expect(decodeBatch(bodies, meta, opts).deadLetters.map((d) => d.reason), JSON.stringify(extra)).toEqual(['telemetry.empty']);
    }
    const { bodies, meta } = batch([{ device: 'd', body: { timestamp: iso(now), seq: 1, deviceId: 'd', messageId: 'm', speed: 2 } }]);
    expect(decodeBatch(bodies, meta, opts).readings[0]!.values).toEqual({ speed: 2 });
    // Each field a refusal's hint knows as the envelope's (a .NET device's 'Timestamp': did you mean 'timestamp'?) is one.
    const envelope = Object.fromEntries(ENVELOPE_FIELDS.map((f) => [f, f === 'timestamp' ? iso(now) : f === 'seq' ? 1 : 'd']));
    const every = batch([{ device: 'd', body: { ...envelope, speed: 2 } }]);
    expect(decodeBatch(every.bodies, every.meta, opts).readings[0]!.values).toEqual({ speed: 2 });
  });

  it('refuses each name that would reach an object\'s prototype', () => {
    for (const name of ['__proto__', 'constructor', 'prototype']) {
      const body = `{"timestamp":"${iso(now)}","speed":1,"${name}":{"polluted":true}}`;
      const { readings, deadLetters } = decodeBatch([body], { systemPropertiesArray: [{ 'iothub-connection-device-id': 'd' }] }, opts);
      expect(readings, name).toEqual([]);
      expect(deadLetters.map((d) => d.reason), name).toEqual(['telemetry.badName']);
    }
  });

  it('adds the device\'s time to a reading\'s key only when the device (or IoT Hub\'s creation time) gave one', () => {
    const sys = (extra: Record<string, unknown>) => ({ systemPropertiesArray: [{ 'iothub-connection-device-id': 'd', 'iothub-enqueuedtime': iso(now - 500), ...extra }] });
    const noDeviceTime = decodeBatch([{ messageId: 'm-1', speed: 1 }], sys({}), opts).readings[0]!;
    expect(noDeviceTime.key).toBe('d|m:m-1');
    expect(noDeviceTime.time).toBe(now - 500);
    const created = decodeBatch([{ messageId: 'm-1', speed: 1 }], sys({ 'iothub-creation-time-utc': iso(now - 800) }), opts).readings[0]!;
    expect(created.key).toBe(`d|m:m-1@${now - 800}`);
  });

  it('keeps the hub\'s enqueued time beside the device\'s time, or the device\'s when the hub gave none', () => {
    const withHub = decodeBatch([{ timestamp: iso(now - 1000), speed: 1 }], { systemPropertiesArray: [{ 'iothub-connection-device-id': 'd', 'iothub-enqueuedtime': iso(now - 200) }] }, opts).readings[0]!;
    expect(withHub).toMatchObject({ timeIso: iso(now - 1000), enqueuedIso: iso(now - 200) });
    const withoutHub = decodeBatch([{ timestamp: iso(now - 1000), speed: 1 }], { systemPropertiesArray: [{ 'iothub-connection-device-id': 'd' }] }, opts).readings[0]!;
    expect(withoutHub).toMatchObject({ timeIso: iso(now - 1000), enqueuedIso: iso(now - 1000) });
  });
});

const ENCODINGS = ['utf-8', 'utf-16le', 'utf-16be', 'utf-32le', 'utf-32be'] as const;

/** Text as a device in another language would send it: written here by hand, so that the decoder is not checked against itself. */
function encode(text: string, encoding: (typeof ENCODINGS)[number], mark: boolean): Buffer {
  const withMark = mark ? `\uFEFF${text}` : text;
  switch (encoding) {
    case 'utf-8':
      return Buffer.from(withMark, 'utf8');
    case 'utf-16le':
      return Buffer.from(withMark, 'utf16le');
    case 'utf-16be':
      return Buffer.from(withMark, 'utf16le').swap16();
    default: {
      const points = [...withMark].map((c) => c.codePointAt(0)!);
      const out = Buffer.alloc(points.length * 4);
      points.forEach((p, i) => (encoding === 'utf-32le' ? out.writeUInt32LE(p, i * 4) : out.writeUInt32BE(p, i * 4)));
      return out;
    }
  }
}
