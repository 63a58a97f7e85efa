/**
 * `npm start -- --*-port 0` gives each service a port of its own: the ports picked together are
 * all different and free to listen on.
 */
import { describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { freePorts } from '../../src/local/free-ports.ts';

describe('free ports for a run', () => {
  it('are as many as asked, all different, and each can be listened on', async () => {
    const ports = await freePorts(64);
    expect(ports).toHaveLength(64);
    expect(new Set(ports).size).toBe(64);
    for (const port of ports.slice(0, 6)) {
      const server = createServer();
      await new Promise<void>((resolve, reject) => (server.once('error', reject), server.listen(port, '127.0.0.1', resolve)));
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
