/**
 * The connection to an upstream: TLS with and without the CA, plain HTTP only
 * when asked for, redirected blobs, and upstreams that refuse, stall at the
 * handshake, before answering or in the middle of a blob.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { DistributionClient, type DistributionClientOptions } from '../../src/upstream/distribution-client.ts';
import { parseManifestDocument } from '../../src/upstream/manifest-document.ts';
import { isAcihostError } from '../../src/errors.ts';
import { createTestCertificate } from '../helpers/tls.ts';
import { buildSmallImage, pushLayout, startUpstreamRegistry, type UpstreamRegistry } from '../helpers/upstream-registry.ts';

const IDLE_MS = 300;
let tlsRegistry: UpstreamRegistry;
let httpRegistry: UpstreamRegistry;
const cert = await createTestCertificate(['127.0.0.1', 'localhost']);
const clients: DistributionClient[] = [];
const cleanups: (() => unknown)[] = [];

function client(opts: Partial<DistributionClientOptions> & { registry: string }): DistributionClient {
  const c = new DistributionClient({
    repository: 'team/app',
    timeouts: { connectMs: IDLE_MS, idleMs: IDLE_MS },
    maxManifestBytes: 1 << 20,
    userAgent: 'acihost-test',
    ...opts,
  });
  clients.push(c);
  return c;
}

const expectError = (code: string, kind: string, pattern: RegExp) => (e: unknown) => {
  assert.ok(isAcihostError(e), String(e));
  assert.equal(e.code, code, e.message);
  assert.equal(e.kind, kind);
  assert.match(e.message, pattern);
  return true;
};

async function listen(server: Server | NetServer): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => sockets.add(s));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

before(async () => {
  const image = await buildSmallImage({ files: { 'etc/motd': 'transport\n' } });
  tlsRegistry = await startUpstreamRegistry({});
  httpRegistry = await startUpstreamRegistry({ plainHttp: true });
  await pushLayout(tlsRegistry, image.layoutDir, image.tag, 'team/app:1', { format: 'oci' });
  await pushLayout(httpRegistry, image.layoutDir, image.tag, 'team/app:1', { format: 'oci' });
});

after(async () => {
  for (const c of clients) c.close();
  for (const cleanup of cleanups) await cleanup();
  await tlsRegistry?.stop();
  await httpRegistry?.stop();
});

test('TLS: the CA given verifies the registry; without it the error names the host and the CA', async () => {
  const ok = await client({ registry: tlsRegistry.host, ca: tlsRegistry.caPem }).manifest('1');
  assert.equal(parseManifestDocument(ok).kind, 'manifest');
  await assert.rejects(
    client({ registry: tlsRegistry.host }).manifest('1'),
    expectError('UPSTREAM_TLS_FAILED', 'bad-gateway', new RegExp(`certificate of ${tlsRegistry.host} is not trusted.*configure that CA`)),
  );
  // Another CA is no better than none.
  await assert.rejects(client({ registry: tlsRegistry.host, ca: cert.caPem }).manifest('1'), { code: 'UPSTREAM_TLS_FAILED' });
});

test('plain HTTP only with insecureHttp', async () => {
  await assert.rejects(
    client({ registry: httpRegistry.host }).manifest('1'),
    expectError('UPSTREAM_TLS_FAILED', 'bad-gateway', new RegExp(`${httpRegistry.host} does not speak TLS.*plain HTTP.*insecureHttp`)),
  );
  const c = client({ registry: httpRegistry.host, insecureHttp: true });
  const doc = parseManifestDocument(await c.manifest('1'));
  assert.ok(doc.kind === 'manifest');
  for await (const _ of (await c.blob(doc.layers[0]!)) as Readable);
});

test('a refused connection names the host and says to check the port', async () => {
  const server = createNetServer();
  const host = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await assert.rejects(
    client({ registry: host, ca: cert.caPem }).manifest('1'),
    expectError('UPSTREAM_UNREACHABLE', 'bad-gateway', new RegExp(`${host} refused the connection.*check the port`)),
  );
});

test('an upstream that accepts and never shakes hands: gateway-timeout within connectMs', async () => {
  const host = await listen(createNetServer(() => {}));
  const started = Date.now();
  await assert.rejects(
    client({ registry: host, ca: cert.caPem }).manifest('1'),
    expectError('UPSTREAM_TIMEOUT', 'gateway-timeout', new RegExp(`${host} did not complete a TLS connection within ${IDLE_MS} ms`)),
  );
  assert.ok(Date.now() - started < IDLE_MS + 1000);
});

test('an upstream that never answers the request: gateway-timeout within idleMs', async () => {
  const host = await listen(createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, () => {}));
  const started = Date.now();
  await assert.rejects(
    client({ registry: host, ca: cert.caPem }).manifest('1'),
    expectError(
      'UPSTREAM_TIMEOUT',
      'gateway-timeout',
      new RegExp(`${host} accepted the connection but sent no answer within ${IDLE_MS} ms`),
    ),
  );
  assert.ok(Date.now() - started < 2 * IDLE_MS + 1000);
});

test('an upstream that stops in the middle of a blob: the stream fails with gateway-timeout', async () => {
  const digest = `sha256:${'1'.repeat(64)}`;
  const host = await listen(
    createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => {
      res.writeHead(200, { 'content-length': 1000 });
      res.write(Buffer.alloc(400));
    }),
  );
  const stream = await client({ registry: host, ca: cert.caPem }).blob({ mediaType: 'application/octet-stream', digest, size: 1000 });
  let received = 0;
  const started = Date.now();
  await assert.rejects(
    (async () => {
      for await (const chunk of stream) received += (chunk as Buffer).length;
    })(),
    expectError('UPSTREAM_TIMEOUT', 'gateway-timeout', new RegExp(`${host} stopped sending blob ${digest}`)),
  );
  assert.ok(Date.now() - started < IDLE_MS + 1000);
  assert.ok(received <= 400);
});

test('an upstream that closes in the middle of a blob: the stream fails, it does not end', async () => {
  const digest = `sha256:${'2'.repeat(64)}`;
  const host = await listen(
    createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => {
      res.writeHead(200, { 'content-length': 1000 });
      res.write(Buffer.alloc(400), () => res.socket?.destroy());
    }),
  );
  const stream = await client({ registry: host, ca: cert.caPem }).blob({ mediaType: 'application/octet-stream', digest, size: 1000 });
  await assert.rejects(
    (async () => {
      for await (const _ of stream);
    })(),
    (e: unknown) => isAcihostError(e) && e.kind === 'bad-gateway' && e.message.includes(host),
  );
});

test('blobs redirected to another origin are followed', async () => {
  const seen: (string | undefined)[] = [];
  // The registry itself, under its other name: another origin.
  const target = `https://localhost:${tlsRegistry.host.split(':')[1]}`;
  const front = await listen(
    createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      seen.push(req.headers.authorization);
      if (req.url!.includes('/blobs/')) {
        res.writeHead(307, { location: `${target}${req.url}` }).end();
        return;
      }
      res.writeHead(401, { 'www-authenticate': 'Basic realm="front"' }).end();
    }),
  );
  const direct = client({ registry: tlsRegistry.host, ca: tlsRegistry.caPem });
  const doc = parseManifestDocument(await direct.manifest('1'));
  assert.ok(doc.kind === 'manifest');
  const layer = doc.layers[0]!;
  const fronted = client({ registry: front, ca: cert.caPem + tlsRegistry.caPem, credentials: { username: 'u', password: 'p' } });
  // Asks for Basic first (a manifest), so the credentials go with every request after.
  await assert.rejects(fronted.manifest('1'), { code: 'UPSTREAM_AUTH_FAILED' });
  let bytes = 0;
  for await (const chunk of (await fronted.blob(layer)) as Readable) bytes += (chunk as Buffer).length;
  assert.equal(bytes, layer.size);
  assert.ok(seen.at(-1)?.startsWith('Basic '), 'the front got the credentials');
});

test('a redirect from HTTPS to plain HTTP is refused', async () => {
  const front = await listen(
    createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      res.writeHead(302, { location: `http://${httpRegistry.host}${req.url}` }).end();
    }),
  );
  await assert.rejects(
    client({ registry: front, ca: cert.caPem }).blob({
      mediaType: 'application/octet-stream',
      digest: `sha256:${'3'.repeat(64)}`,
      size: 1,
    }),
    expectError('UPSTREAM_BAD_RESPONSE', 'bad-gateway', /sent acihost to plain HTTP.*insecureHttp/),
  );
});
