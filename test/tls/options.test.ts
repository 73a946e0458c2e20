import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { spawn } from 'node:child_process';
import { DEFAULT_CIPHERS } from 'node:tls';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { httpsOptions } from '../../src/tls/options.ts';
import { createTestCertificate, httpsGet } from '../helpers/tls.ts';

// What rkt built with an older Go (before 1.12) needs: TLS 1.2 with ECDHE and AES-GCM (docs/operations.md#tls-and-acme).
const RKT_CIPHER = 'ECDHE-ECDSA-AES128-GCM-SHA256';

const cert = await createTestCertificate();

async function startServer(t: { after: (fn: () => Promise<void>) => void }): Promise<{ server: Server; url: string }> {
  const server = createServer(httpsOptions(cert.certPem, cert.keyPem), (_req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end('hello over tls');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return { server, url: `https://127.0.0.1:${port}/` };
}

test('httpsOptions sets a TLS 1.2 floor and no ceiling', () => {
  const options = httpsOptions(cert.certPem, cert.keyPem);
  assert.equal(options.minVersion, 'TLSv1.2');
  assert.equal(options.maxVersion, undefined);
  assert.equal(options.ciphers, undefined); // Node's default list applies
  assert.ok(DEFAULT_CIPHERS.split(':').includes(RKT_CIPHER));
  assert.ok(DEFAULT_CIPHERS.split(':').includes('ECDHE-ECDSA-AES256-GCM-SHA384'));
});

test('a client limited to TLS 1.2 and ECDHE-ECDSA-AES128-GCM-SHA256 gets through', async (t) => {
  const { url } = await startServer(t);
  const res = await httpsGet(url, { ca: cert.caPem, maxVersion: 'TLSv1.2', ciphers: RKT_CIPHER });
  assert.equal(res.status, 200);
  assert.equal(res.body.toString(), 'hello over tls');
  assert.deepEqual(res.tls, { protocol: 'TLSv1.2', cipher: RKT_CIPHER });
});

test('a modern client negotiates TLS 1.3', async (t) => {
  const { url } = await startServer(t);
  const res = await httpsGet(url, { ca: cert.caPem });
  assert.equal(res.status, 200);
  assert.equal(res.tls.protocol, 'TLSv1.3');
});

test('the certificate is valid for localhost and ::1 too', async (t) => {
  const { url } = await startServer(t);
  const port = new URL(url).port;
  const res = await httpsGet(`https://127.0.0.1:${port}/`, { ca: cert.caPem, servername: 'localhost' });
  assert.equal(res.status, 200);
  const { X509Certificate } = await import('node:crypto');
  assert.equal(new X509Certificate(cert.certPem).checkIP('::1'), '::1');
});

test('a client that does not trust the CA is refused', async (t) => {
  const { url } = await startServer(t);
  const stranger = await createTestCertificate();
  await assert.rejects(httpsGet(url, { ca: stranger.caPem }), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
});

test('TLS 1.1 is refused by the server', async (t) => {
  const { server, url } = await startServer(t);
  const serverError = new Promise<NodeJS.ErrnoException>((resolve) => server.once('tlsClientError', resolve));
  // SECLEVEL=0 lets this OpenSSL offer TLS 1.1 at all, so the refusal is the server's.
  await assert.rejects(httpsGet(url, { ca: cert.caPem, maxVersion: 'TLSv1.1', minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' }));
  assert.equal((await serverError).code, 'ERR_SSL_UNSUPPORTED_PROTOCOL');
});

test('openssl s_client -tls1_2 completes a verified handshake on P-256 (no X25519, like Go < 1.8)', async (t) => {
  const { url } = await startServer(t);
  const dir = await mkdtemp(join(tmpdir(), 'acihost-tls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const caFile = join(dir, 'ca.pem');
  await writeFile(caFile, cert.caPem);
  const { stdout, stderr, code } = await sClient(
    [
      '-connect',
      new URL(url).host,
      '-tls1_2',
      '-cipher',
      RKT_CIPHER,
      '-groups',
      'P-256',
      '-CAfile',
      caFile,
      '-verify_return_error',
      '-verify_ip',
      '127.0.0.1',
      '-brief',
      '-ign_eof',
    ],
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
  );
  assert.equal(code, 0, stderr);
  assert.match(stderr, /Protocol version: TLSv1\.2/);
  assert.match(stderr, new RegExp(`Ciphersuite: ${RKT_CIPHER}`));
  assert.match(stderr, /Verification: OK/);
  assert.match(stdout, /HTTP\/1\.1 200 OK/);
  assert.match(stdout, /hello over tls/);
});

function sClient(args: string[], input: string): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', ['s_client', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout, stderr, code }));
    child.stdin.end(input);
  });
}
