/**
 * TLS helpers for tests: a certificate made at test time, and a small HTTPS
 * client on node:https that trusts a given CA (no undici, no global agent, so
 * no pooled socket keeps a server from closing).
 */
import { request, type RequestOptions } from 'node:https';
import type { ClientRequest, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createTestCertificate } from '../../src/tls/dev-ca.ts';

export { createTestCertificate };

export interface HttpsRequestOptions {
  /** PEM of the CA to trust (instead of the system roots). */
  ca: string | Buffer;
  method?: string;
  headers?: OutgoingHttpHeaders;
  /** A Buffer is sent with Content-Length; a Readable is streamed (chunked unless a length header is given). */
  body?: Buffer | Readable;
  /** Narrow the TLS handshake, e.g. maxVersion 'TLSv1.2' with one cipher to act like rkt. */
  minVersion?: RequestOptions['minVersion'];
  maxVersion?: RequestOptions['maxVersion'];
  ciphers?: string;
  /** SNI and certificate host name, when they differ from the URL's host. */
  servername?: string;
  /** Fails the request after this many milliseconds without activity; default 10 000. */
  timeoutMs?: number;
}

export interface HttpsResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** What the handshake agreed, e.g. { protocol: 'TLSv1.2', cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256' }. */
  tls: { protocol: string | null; cipher: string };
}

/** Sends one request and collects the whole response body. */
export function httpsRequest(url: string | URL, opts: HttpsRequestOptions): Promise<HttpsResponse> {
  const { body, timeoutMs = 10_000 } = opts;
  const headers: OutgoingHttpHeaders = { ...opts.headers };
  if (Buffer.isBuffer(body) && !hasHeader(headers, 'content-length')) headers['content-length'] = body.length;
  return new Promise<HttpsResponse>((resolve, reject) => {
    const req = request(url, { ...tlsOptions(opts), method: opts.method ?? 'GET', headers, agent: false }, (res) => {
      const socket = res.socket as TLSSocket;
      const tls = { protocol: socket.getProtocol(), cipher: socket.getCipher().name };
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), tls }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`https request timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    // A failing body stream is the cause; report it rather than the "socket hang up" it leads to.
    if (body instanceof Readable) body.once('error', reject);
    sendBody(req, body).catch((error: unknown) => req.destroy(error as Error));
  });
}

/** GET (or another bodiless method) against a server whose certificate `ca` signed. */
export function httpsGet(url: string | URL, opts: Omit<HttpsRequestOptions, 'body'>): Promise<HttpsResponse> {
  return httpsRequest(url, opts);
}

function tlsOptions(opts: HttpsRequestOptions): RequestOptions {
  const tls: RequestOptions = { ca: opts.ca };
  if (opts.minVersion !== undefined) tls.minVersion = opts.minVersion;
  if (opts.maxVersion !== undefined) tls.maxVersion = opts.maxVersion;
  if (opts.ciphers !== undefined) tls.ciphers = opts.ciphers;
  if (opts.servername !== undefined) tls.servername = opts.servername;
  return tls;
}

async function sendBody(req: ClientRequest, body: Buffer | Readable | undefined): Promise<void> {
  if (body instanceof Readable) {
    await pipeline(body, req);
  } else {
    req.end(body);
  }
}

const hasHeader = (headers: OutgoingHttpHeaders, name: string): boolean => Object.keys(headers).some((key) => key.toLowerCase() === name);
