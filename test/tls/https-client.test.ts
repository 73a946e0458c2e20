import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { httpsOptions } from '../../src/tls/options.ts';
import { createTestCertificate, httpsRequest } from '../helpers/tls.ts';

const cert = await createTestCertificate();

// Echoes the method, the request headers that matter and the body.
async function startEcho(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const server = createServer(httpsOptions(cert.certPem, cert.keyPem), (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      res.setHeader('x-method', req.method ?? '');
      res.setHeader('x-length', req.headers['content-length'] ?? 'none');
      res.setHeader('x-chunked', String(req.headers['transfer-encoding'] === 'chunked'));
      res.setHeader('x-token', req.headers['x-token'] ?? '');
      res.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}/upload`;
}

test('a Buffer body is sent with Content-Length', async (t) => {
  const url = await startEcho(t);
  const body = Buffer.from('aci bytes');
  const res = await httpsRequest(url, { ca: cert.caPem, method: 'PUT', body, headers: { 'x-token': 'abc' } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, body);
  assert.equal(res.headers['x-method'], 'PUT');
  assert.equal(res.headers['x-length'], String(body.length));
  assert.equal(res.headers['x-token'], 'abc');
});

test('a Readable body is streamed in chunks', async (t) => {
  const url = await startEcho(t);
  const parts = Array.from({ length: 64 }, (_, i) => Buffer.alloc(16 * 1024, i));
  const res = await httpsRequest(url, { ca: cert.caPem, method: 'POST', body: Readable.from(parts) });
  assert.equal(res.status, 200);
  assert.equal(res.headers['x-chunked'], 'true');
  assert.deepEqual(res.body, Buffer.concat(parts));
});

test('a failing body stream fails the request', async (t) => {
  const url = await startEcho(t);
  const broken = new Readable({
    read() {
      this.destroy(new Error('disk went away'));
    },
  });
  await assert.rejects(httpsRequest(url, { ca: cert.caPem, method: 'POST', body: broken }), /disk went away/);
});
