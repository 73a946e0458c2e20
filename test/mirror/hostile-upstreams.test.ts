import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { aciPath, MIRROR_PREFIX, startMirror, type MirrorFixture } from '../helpers/mirror-fixture.ts';
import { STANDARD_IMAGES, writeLayout } from '../helpers/oci-images.ts';
import { storedKeys } from '../helpers/storage-snapshot.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { httpsRequest } from '../helpers/tls.ts';
import { pushLayout } from '../helpers/upstream-registry.ts';

const MiB = 1024 * 1024;
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * A registry an attacker runs: it answers /v2/, serves `evil/app:1.0` as a manifest whose
 * layer is a foreign one with URLs on `elsewhere`, and never answers anything under `stall/`.
 */
function hostileRegistry(elsewhere: string): { server: Server; requests: string[] } {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const layer = gzipSync(Buffer.alloc(1024));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
          digest: sha256(layer),
          size: layer.length,
          urls: [`${elsewhere}/layer`],
        },
      ],
    }),
  );
  const slowManifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
    }),
  );
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === '/v2/') return res.end('{}');
    if (req.url?.startsWith('/v2/stall/')) return; // never answers
    if (req.url === '/v2/evil/app/manifests/1.0') {
      res.setHeader('content-type', 'application/vnd.oci.image.manifest.v1+json');
      res.setHeader('docker-content-digest', sha256(manifest));
      return res.end(manifest);
    }
    if (req.url === `/v2/evil/app/blobs/${sha256(config)}` || req.url === `/v2/slow/app/blobs/${sha256(config)}`) return res.end(config);
    if (req.url === '/v2/slow/app/manifests/1.0') {
      res.setHeader('content-type', 'application/vnd.oci.image.manifest.v1+json');
      res.setHeader('docker-content-digest', sha256(slowManifest));
      return res.end(slowManifest);
    }
    if (req.url?.startsWith('/v2/slow/app/blobs/')) return; // the layer never comes
    res.statusCode = 404;
    res.end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
  });
  return { server, requests };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}

describe('hostile upstreams: each answers a clear error, stores nothing, and the server keeps serving', () => {
  let f: MirrorFixture;
  let ca: string;
  const hostile = { registry: undefined as ReturnType<typeof hostileRegistry> | undefined, elsewhere: [] as string[] };
  let elsewhere: Server;
  const get = (path: string) => httpsRequest(f.setup.origin + path, { ca, timeoutMs: 30_000 });
  const code = (res: { body: Buffer }) => (JSON.parse(res.body.toString()) as { error: { code: string } }).error.code;
  const imageKeys = async () => (await storedKeys(f.setup.storageDir)).filter((k) => /^(images|blobs)\//.test(k));

  before(async () => {
    elsewhere = createServer((req, res) => {
      hostile.elsewhere.push(req.url ?? '');
      res.end();
    });
    const elsewherePort = await listen(elsewhere);
    hostile.registry = hostileRegistry(`http://127.0.0.1:${elsewherePort}`);
    const hostilePort = await listen(hostile.registry.server);
    f = await startMirror({
      mirrors: { timeoutSeconds: 2, maxConversions: 1 },
      limits: { maxUncompressedBytes: 16 * MiB, maxCompressedBytes: 4 * MiB },
      upstreams: (u) => [
        { source: `${u.host}/library/*`, prefix: MIRROR_PREFIX, caFile: u.caFile },
        { source: `127.0.0.1:${hostilePort}/*`, prefix: 'localhost/mirror/hostile', insecureHttp: true },
        { source: `${u.host}/unsigned/*`, prefix: 'localhost/unsigned', caFile: u.caFile },
      ],
    });
    ca = await readFile(f.setup.caFile, 'utf8');
    await pushLayout(f.upstream, f.layout, STANDARD_IMAGES.plain, 'library/good:1.0', { format: 'oci' });
  });
  after(async () => {
    await f?.close();
    hostile.registry?.server.closeAllConnections();
    hostile.registry?.server.close();
    elsewhere?.close();
  });

  it('a rule whose prefix no server key covers: a warning at start, and 422 naming the command', async () => {
    assert.match(
      f.server.stderr(),
      /no server signing key covers the mirror prefix localhost\/unsigned.*acihost key generate --prefix localhost\/unsigned/,
    );
    await pushLayout(f.upstream, f.layout, STANDARD_IMAGES.plain, 'unsigned/app:1.0', { format: 'oci' });
    const res = await get(aciPath('localhost/unsigned/app', '1.0'));
    assert.equal(res.status, 422);
    assert.equal(code(res), 'SIGNING_KEY_MISSING');
    assert.match(res.body.toString(), /so its conversion cannot be signed; make one: acihost key generate --prefix/);
  });

  it('a layer bomb past limits.maxUncompressedBytes: 413', async () => {
    const layout = join(await tempDir('bomb-'), 'layout');
    await writeLayout(layout, 'bomb', [{ entries: [{ name: 'zeros', body: Buffer.alloc(64 * MiB) }] }]);
    await pushLayout(f.upstream, layout, 'bomb', 'library/bomb:1.0', { format: 'oci' });
    const before = await imageKeys();
    const res = await get(aciPath(`${MIRROR_PREFIX}/bomb`, '1.0'));
    assert.equal(res.status, 413, res.body.toString());
    assert.deepEqual(await imageKeys(), before);
    assert.equal((await get(aciPath(`${MIRROR_PREFIX}/good`, '1.0'))).status, 200);
  });

  it('a converted image past limits.maxCompressedBytes: 413 while it streams, and the server lives on', async () => {
    const layout = join(await tempDir('big-'), 'layout');
    await writeLayout(layout, 'big', [{ entries: [{ name: 'noise', body: randomBytes(8 * MiB) }] }]);
    await pushLayout(f.upstream, layout, 'big', 'library/big:1.0', { format: 'oci' });
    const before = await imageKeys();
    const res = await get(aciPath(`${MIRROR_PREFIX}/big`, '1.0'));
    assert.equal(res.status, 413, res.body.toString());
    assert.deepEqual(await imageKeys(), before);
    assert.equal((await get(aciPath(`${MIRROR_PREFIX}/good`, '1.0'))).status, 200);
    assert.equal(f.server.child.exitCode, null, 'the server is still running');
  });

  it('a manifest whose layer points to another host: refused, and that host is never asked', async () => {
    const before = await imageKeys();
    const res = await get(aciPath('localhost/mirror/hostile/evil/app', '1.0'));
    assert.equal(res.status, 422, res.body.toString());
    assert.equal(code(res), 'UPSTREAM_LAYER_UNSUPPORTED');
    assert.deepEqual(hostile.elsewhere, []);
    assert.deepEqual(await imageKeys(), before);
  });

  it('a registry that stalls: 504 within the timeout, while other names are served meanwhile', async () => {
    const started = Date.now();
    const stalled = get(aciPath('localhost/mirror/hostile/stall/app', '1.0'));
    const other = await get(aciPath(`${MIRROR_PREFIX}/good`, '1.0'));
    assert.equal(other.status, 200);
    const res = await stalled;
    assert.equal(res.status, 504, res.body.toString());
    assert.equal(code(res), 'UPSTREAM_TIMEOUT');
    assert.ok(Date.now() - started < 10_000, `answered after ${Date.now() - started} ms`);
  });

  it('past mirrors.maxConversions: 429 CONVERSIONS_BUSY, and the slot is free again once the conversion ends', async () => {
    await pushLayout(f.upstream, f.layout, STANDARD_IMAGES.namedUser, 'library/later:1.0', { format: 'oci' });
    const slow = get(aciPath('localhost/mirror/hostile/slow/app', '1.0'));
    await new Promise((r) => setTimeout(r, 500));
    const busy = await get(aciPath(`${MIRROR_PREFIX}/later`, '1.0'));
    assert.equal(busy.status, 429, busy.body.toString());
    assert.equal(code(busy), 'CONVERSIONS_BUSY');
    assert.equal((await slow).status, 504);
    assert.equal((await get(aciPath(`${MIRROR_PREFIX}/later`, '1.0'))).status, 200);
  });

  it('a second request soon after a failure gets the same answer without asking the upstream again', async () => {
    const asked = hostile.registry!.requests.filter((r) => r.startsWith('/v2/evil/')).length;
    const res = await get(aciPath('localhost/mirror/hostile/evil/app', '1.0'));
    assert.equal(code(res), 'UPSTREAM_LAYER_UNSUPPORTED');
    assert.equal(hostile.registry!.requests.filter((r) => r.startsWith('/v2/evil/')).length, asked);
  });
});
