/**
 * A CSV file's bytes as the text the scorer reads. Exports from plant historians and SCADA
 * systems are not always plain UTF-8: Excel's "Unicode text" and several HMI exports are UTF-16,
 * and archived logs are gzipped. Both are told from the first bytes as a telemetry body's are
 * (gzip's magic number; a byte order mark, or where the zero bytes fall), never from the file's name.
 */
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { AppError } from '../errors.ts';
import { encodingOf, isGzip } from '../telemetry/decode.ts';

/** The chunks of `input`, gunzipped and decoded from UTF-16 when they are so; UTF-8 and text chunks pass as they are. */
export async function* csvText(input: AsyncIterable<unknown>): AsyncGenerator<Buffer | string> {
  const it = input[Symbol.asyncIterator]();
  try {
    // Enough of the start to tell the format by (a pipe may hand over a byte at a time).
    const first: Buffer[] = [];
    let size = 0;
    let ended = false;
    while (size < 4) {
      const next = await it.next();
      if (next.done) {
        ended = true;
        break;
      }
      if (!Buffer.isBuffer(next.value)) {
        // Text already (a caller handed strings over): nothing to tell from bytes.
        yield* first;
        yield next.value as string;
        for (let n = await it.next(); !n.done; n = await it.next()) yield n.value as string;
        return;
      }
      first.push(next.value);
      size += next.value.length;
    }
    const start = Buffer.concat(first);
    async function* rest(): AsyncGenerator<Buffer> {
      if (start.length) yield start;
      if (ended) return;
      for (let n = await it.next(); !n.done; n = await it.next()) yield n.value as Buffer;
    }
    if (isGzip(start)) {
      // pipeline destroys the gunzip with the source's error, so reading it rethrows that error.
      const gunzip = pipeline(Readable.from(rest()), createGunzip(), () => {});
      try {
        yield* csvText(gunzip);
      } catch (error) {
        const e = error as NodeJS.ErrnoException;
        if (typeof e.code === 'string' && e.code.startsWith('Z_')) throw new AppError('csv.badGzip', `the file is gzip but does not inflate: ${e.message}`, { status: 400 });
        throw error;
      }
      return;
    }
    // Told as a telemetry body is: a byte order mark, else where the zero bytes fall.
    const encoding = encodingOf(start);
    if (encoding === 'utf-8') {
      yield* rest();
      return;
    }
    if (encoding === 'utf-32le' || encoding === 'utf-32be') throw new AppError('csv.encoding', `the file looks like ${encoding.toUpperCase()} text, which is not read: save it as UTF-8 or UTF-16`, { status: 400 });
    // TextDecoder keeps a character cut between two chunks for the next, and drops the byte order mark.
    const decoder = new TextDecoder(encoding);
    for await (const chunk of rest()) {
      const text = decoder.decode(chunk, { stream: true });
      if (text) yield text;
    }
    const tail = decoder.decode();
    if (tail) yield tail;
  } finally {
    // Stopped early (a refused header): the file is closed, not left open.
    await it.return?.();
  }
}
