/**
 * The broker buffers a whole MQTT packet before it parses it, authenticated or not: one
 * never-finished 200 MiB CONNECT would sit in memory. This reads the fixed headers of the byte
 * stream alongside the broker and closes the connection as soon as a packet declares more than
 * the hub accepts: the first packet (CONNECT, before any authentication) at most
 * `maxConnectBytes`, any later one at most `maxPacketBytes` (IoT Hub's message limit plus room
 * for the topic and properties).
 */
import type { Socket } from 'node:net';

export interface PacketLimits {
  maxConnectBytes: number;
  maxPacketBytes: number;
}

export function guardPackets(socket: Socket, limits: PacketLimits, onRefused: (reason: string) => void): void {
  let packets = 0;
  let skip = 0; // bytes of the current packet's body still to pass
  let inHeader = false; // reading the remaining-length field
  let length = 0;
  let multiplier = 1;
  let lengthBytes = 0;
  const refuse = (reason: string) => {
    socket.off('data', watch);
    onRefused(reason);
    socket.destroy();
  };
  const watch = (chunk: Buffer) => {
    for (let i = 0; i < chunk.length; ) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - i);
        skip -= n;
        i += n;
        continue;
      }
      if (!inHeader) {
        // The packet type byte; the remaining length follows.
        inHeader = true;
        length = 0;
        multiplier = 1;
        lengthBytes = 0;
        i++;
        continue;
      }
      const b = chunk[i++]!;
      length += (b & 0x7f) * multiplier;
      multiplier *= 128;
      lengthBytes++;
      if (b & 0x80) {
        if (lengthBytes >= 4) return refuse('malformed remaining length');
        continue;
      }
      inHeader = false;
      const limit = packets === 0 ? limits.maxConnectBytes : limits.maxPacketBytes;
      if (length > limit) return refuse(`${packets === 0 ? 'CONNECT' : 'packet'} of ${length} bytes exceeds ${limit}`);
      packets++;
      skip = length;
    }
  };
  socket.on('data', watch);
}
