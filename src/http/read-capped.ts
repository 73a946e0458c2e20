import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { tooLarge } from '../errors.ts';

/** Reads a small stream whole, refusing it past `max` bytes. */
export async function readCapped(stream: Readable, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > max) throw tooLarge('PART_TOO_LARGE', `the ${what} is larger than ${max} bytes; send only the one detached signature`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Reads and discards what is left of a refused request body (bounded), so the
 * client reads our answer instead of a broken pipe.
 */
export function drainRequest(raw: Readable, maxBytes: number, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const finish = () => {
      clearTimeout(timer);
      raw.off('data', onData);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes) finish();
    };
    const timer = setTimeout(finish, timeoutMs);
    if (raw.readableEnded || raw.destroyed) return finish();
    raw.unpipe();
    raw.on('data', onData);
    raw.once('end', finish);
    raw.once('close', finish);
    raw.resume();
  });
}

/** What a client sends without waiting for an answer: curl waits for 100 Continue only past 1 MiB. */
const EARLY_BODY_BYTES = 1024 * 1024;
const EARLY_BODY_MS = 2000;

/**
 * Before a request is refused unread: takes in a small body whole (discarded), so
 * the connection closes cleanly or stays open; a larger one, which keeping the
 * connection would mean reading to its end, closes it once answered. Closing a
 * connection with unread bytes resets it, and a client still sending its small
 * body then reports a broken pipe instead of the answer.
 */
export async function settleUnreadBody(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  await drainRequest(request.raw, EARLY_BODY_BYTES, EARLY_BODY_MS);
  if (!request.raw.readableEnded) reply.header('connection', 'close');
}
