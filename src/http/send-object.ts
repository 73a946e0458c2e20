import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { isRecyclingReader, type ByteRange } from '../storage/storage.ts';
import { errorBody } from './error-handler.ts';
import { selectRange } from './byte-range.ts';

export interface ServedObject {
  size: number;
  /** Strong ETag, quoted. */
  etag: string;
  /** A Date, or the HTTP date already formatted (see memoizeServed). */
  lastModified: Date | string;
  contentType: string;
  cacheControl: string;
  vary?: string;
  /** Opens the bytes, or a range of them; only called when a body is sent. */
  open: (range?: ByteRange) => Promise<Readable | Buffer>;
  /** Hears the size of every chunk of a stream sent (the server frees dead buffers by it). */
  onBytes?: (bytes: number) => void;
}

/** What a small in-memory object answers with, computed once and reused by every request for it. */
export interface ServedBytes {
  body: Buffer;
  /** Strong ETag, quoted: sha256 of the body. */
  etag: string;
  /** HTTP date. */
  lastModified: string;
}

/**
 * Caches the served form of small immutable records (signatures, keys) per record
 * object: a record that changes is a new object, so a stale entry is never served
 * and is collected with the old record.
 */
export function memoizeServed<K extends object>(compute: (key: K) => { body: Buffer; lastModified: Date }): (key: K) => ServedBytes {
  const cache = new WeakMap<K, ServedBytes>();
  return (key) => {
    let served = cache.get(key);
    if (!served) {
      const { body, lastModified } = compute(key);
      served = { body, etag: `"${createHash('sha256').update(body).digest('hex')}"`, lastModified: lastModified.toUTCString() };
      cache.set(key, served);
    }
    return served;
  };
}

/** Opens the whole of a small in-memory body, or a range of it. */
export const bufferOpener = (body: Buffer) => async (range?: ByteRange) => (range ? body.subarray(range.start, range.end + 1) : body);

function etagMatches(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

/**
 * Serves immutable bytes the way rkt and caches expect: HEAD, a strong ETag with
 * If-None-Match (304), Last-Modified, and one byte range (206/416, see
 * src/http/byte-range.ts). Never any
 * Content-Encoding: a client that inflates transparently would verify other bytes.
 */
export async function sendObject(request: FastifyRequest, reply: FastifyReply, obj: ServedObject): Promise<FastifyReply> {
  reply
    .header('content-type', obj.contentType)
    .header('etag', obj.etag)
    .header('last-modified', typeof obj.lastModified === 'string' ? obj.lastModified : obj.lastModified.toUTCString())
    .header('cache-control', obj.cacheControl)
    .header('accept-ranges', 'bytes');
  if (obj.vary) reply.header('vary', obj.vary);

  const inm = request.headers['if-none-match'];
  if (inm && etagMatches(inm, obj.etag)) return reply.status(304).send();

  let range: ByteRange | undefined;
  const rangeHeader = request.headers.range;
  const ifRange = request.headers['if-range'];
  if (rangeHeader && (!ifRange || ifRange === obj.etag)) {
    const selected = selectRange(obj.size, rangeHeader);
    if (selected === 'unsatisfiable') {
      return reply
        .status(416)
        .header('content-range', `bytes */${obj.size}`)
        .header('content-type', 'application/json; charset=utf-8')
        .send(
          errorBody(
            'RANGE_NOT_SATISFIABLE',
            obj.size === 0
              ? 'the file is empty, so no range can be sent; ask for it without a Range header'
              : `no requested range starts inside the ${obj.size} bytes; ask for bytes=0-${obj.size - 1} or less`,
          ),
        );
    }
    range = selected;
  }

  const length = range ? range.end - range.start + 1 : obj.size;
  reply.header('content-length', length);
  if (range) reply.status(206).header('content-range', `bytes ${range.start}-${range.end}/${obj.size}`);
  if (request.method === 'HEAD') return reply.send();
  const body = await obj.open(range);
  // Fastify pipes the body into the response, which writes each chunk on at once.
  if (isRecyclingReader(body)) body.enableRecycling(reply.raw);
  // Any other store's chunks are garbage once written: let the heap policy free them in time.
  else if (!Buffer.isBuffer(body) && obj.onBytes) {
    const { onBytes } = obj;
    body.on('data', (chunk: Buffer) => onBytes(chunk.length));
  }
  return reply.send(body);
}
