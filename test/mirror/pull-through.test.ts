import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { aciPath, MIRROR_PREFIX, startMirror, type MirrorFixture } from '../helpers/mirror-fixture.ts';
import { STANDARD_IMAGES, unpackImage } from '../helpers/oci-images.ts';
import { compareTrees, readAci, readDiskTree } from '../helpers/rootfs-oracle.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { httpsRequest } from '../helpers/tls.ts';
import { acfetch } from '../helpers/trust.ts';
import { pushLayout } from '../helpers/upstream-registry.ts';
import { readAudit } from '../helpers/audit.ts';
import { storedKeys } from '../helpers/storage-snapshot.ts';

/** The versions the mirror published, from the audit log. */
const conversions = async (f: MirrorFixture, name: string) =>
  (await readAudit(f.setup.storageDir)).filter(
    (e) => e.action === 'push' && e.actor === 'mirror' && e.name === name && e.result === 'created',
  );

/** Image records and blobs: what a failed conversion must leave as it found. */
const imageKeys = async (f: MirrorFixture) => (await storedKeys(f.setup.storageDir)).filter((k) => /^(images|blobs)\//.test(k));

const run = promisify(execFile);

describe('pull-through: rkt fetch of a mirror name with nothing converted beforehand', () => {
  let f: MirrorFixture;
  let ca: string;
  const get = (path: string, headers: Record<string, string> = {}) => httpsRequest(f.setup.origin + path, { ca, headers });

  before(async () => {
    f = await startMirror();
    ca = await readFile(f.setup.caFile, 'utf8');
    await pushLayout(f.upstream, f.layout, STANDARD_IMAGES.full, 'library/full:1.0', { format: 'v2s2' });
    await pushLayout(f.upstream, f.layout, STANDARD_IMAGES.plain, 'library/plain:2.0', { format: 'oci' });
  });
  after(async () => f?.close());

  it('discovery answers for a mapped name, and acfetch fetches and verifies it against the server key', async () => {
    const page = await get(`/mirror/library/full?ac-discovery=1`);
    assert.equal(page.status, 200);
    assert.match(page.body.toString(), /ac-discovery-pubkeys/);
    assert.match(page.body.toString(), new RegExp(`A mirror of <code>docker://${f.upstream.host}/library/full</code>`));
    const fetched = await acfetch({ caFile: f.setup.caFile, port: f.setup.port }, [`${MIRROR_PREFIX}/full:1.0`]);
    assert.equal(fetched.code, 0, fetched.stderr);
    assert.match(fetched.stdout, /^sha512-[0-9a-f]{128}$/m);
  });

  it('converts entry for entry what umoci unpack makes of the same image, and actool validates it', async () => {
    const res = await get(aciPath(`${MIRROR_PREFIX}/full`, '1.0'));
    assert.equal(res.status, 200);
    const work = await tempDir('mirror-oracle-');
    const file = join(work, 'full.aci');
    await writeFile(file, res.body);
    await run('actool', ['validate', file]);
    const aci = await readAci(res.body);
    const expected = readDiskTree(unpackImage(f.layout, STANDARD_IMAGES.full, join(work, 'bundle')));
    assert.deepEqual(compareTrees(expected, aci.tree), []);
    const labels = Object.fromEntries((aci.manifest.labels as { name: string; value: string }[]).map((l) => [l.name, l.value]));
    assert.deepEqual(labels, { version: '1.0', os: 'linux', arch: 'amd64' });
    assert.equal(aci.manifest.name, `${MIRROR_PREFIX}/full`);
  });

  it('serves a tag no-cache with a stable ETag, and converts it once', async () => {
    const first = await get(aciPath(`${MIRROR_PREFIX}/full`, '1.0'));
    const second = await get(aciPath(`${MIRROR_PREFIX}/full`, '1.0'));
    assert.equal(first.headers['cache-control'], 'no-cache');
    assert.equal(first.headers.etag, second.headers.etag);
    const revalidated = await get(aciPath(`${MIRROR_PREFIX}/full`, '1.0'), { 'if-none-match': String(first.headers.etag) });
    assert.equal(revalidated.status, 304);
    assert.equal((await conversions(f, `${MIRROR_PREFIX}/full`)).length, 1);
  });

  it('answers 16 concurrent first requests with one conversion and identical bytes', async () => {
    const answers = await Promise.all(
      Array.from({ length: 16 }, (_, i) => get(aciPath(`${MIRROR_PREFIX}/plain`, '2.0', i % 2 ? 'aci' : 'aci.asc'))),
    );
    assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([200]));
    assert.equal(new Set(answers.filter((_, i) => i % 2).map((a) => a.body.toString('base64'))).size, 1);
    assert.equal(new Set(answers.filter((_, i) => !(i % 2)).map((a) => a.body.toString())).size, 1);
    assert.equal((await conversions(f, `${MIRROR_PREFIX}/plain`)).length, 1);
  });

  it('maps the upstream latest to a digest-pinned version that the bare name fetches', async () => {
    const digest = await pushLayout(f.upstream, f.layout, STANDARD_IMAGES.namedUser, 'library/named:latest', { format: 'oci' });
    const pinned = `sha256-${digest.slice('sha256:'.length, 'sha256:'.length + 16)}`;
    const fetched = await acfetch({ caFile: f.setup.caFile, port: f.setup.port }, [`${MIRROR_PREFIX}/named`]);
    assert.equal(fetched.code, 0, fetched.stderr);
    const latest = await get(aciPath(`${MIRROR_PREFIX}/named`, 'latest'));
    assert.equal(latest.headers['cache-control'], 'no-cache');
    const labels = (await readAci(latest.body)).manifest.labels as { name: string; value: string }[];
    assert.equal(labels.find((l) => l.name === 'version')?.value, pinned);
    const byVersion = await get(aciPath(`${MIRROR_PREFIX}/named`, pinned));
    assert.equal(byVersion.status, 200);
    assert.equal(byVersion.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(byVersion.headers.etag, latest.headers.etag);
    // Then latest is what it is for every name, as the API shows it: a semver tag outranks the pinned one.
    await pushLayout(f.upstream, f.layout, STANDARD_IMAGES.plain, 'library/named:2.1.0', { format: 'oci' });
    const semver = await get(aciPath(`${MIRROR_PREFIX}/named`, '2.1.0'));
    assert.equal(semver.status, 200);
    assert.equal((await get(aciPath(`${MIRROR_PREFIX}/named`, 'latest'))).headers.etag, semver.headers.etag);
    const api = JSON.parse((await get(`/-/api/images/${MIRROR_PREFIX}/named`)).body.toString()) as {
      versions: { version: string; latest: boolean }[];
    };
    assert.deepEqual(
      api.versions.filter((v) => v.latest).map((v) => v.version),
      ['2.1.0'],
    );
  });

  it('answers what is not upstream, or not allowed, with a clear 404 and stores nothing', async () => {
    const before = await imageKeys(f);
    const tag = await get(aciPath(`${MIRROR_PREFIX}/full`, '9.9'));
    assert.equal(tag.status, 404);
    assert.equal(JSON.parse(tag.body.toString()).error.code, 'UPSTREAM_NOT_FOUND');
    assert.match(tag.body.toString(), /no tag 9\.9 in library\/full/);
    const repo = await get(aciPath(`${MIRROR_PREFIX}/nothing-here`, '1.0'));
    assert.equal(repo.status, 404);
    assert.equal(JSON.parse(repo.body.toString()).error.code, 'UPSTREAM_NOT_FOUND');
    assert.match(repo.body.toString(), /check the repository and tag/);
    const arch = await get(aciPath(`${MIRROR_PREFIX}/full`, '1.0', 'aci', 'aarch64'));
    assert.equal(arch.status, 404);
    assert.equal(JSON.parse(arch.body.toString()).error.code, 'CONVERT_PLATFORM_MISSING');
    const outside = await get(aciPath('localhost/elsewhere/full', '1.0'));
    assert.equal(outside.status, 404);
    assert.equal(JSON.parse(outside.body.toString()).error.code, 'IMAGE_NOT_FOUND');
    assert.equal((await get('/elsewhere/full?ac-discovery=1')).status, 404);
    assert.deepEqual(await imageKeys(f), before);
  });

  it('refuses a layer whose bytes do not match its digest with 502, stores nothing, and keeps serving', async () => {
    const digest = await pushLayout(f.upstream, f.layout, STANDARD_IMAGES.full, 'library/tampered:1.0', { format: 'v2s2' });
    const manifest = JSON.parse(
      (
        await f.upstream.api('GET', `/v2/library/tampered/manifests/${digest}`, {
          headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
        })
      ).body.toString(),
    ) as { layers: { digest: string }[] };
    const layer = f.upstream.blobPath(manifest.layers[0]!.digest);
    const bytes = await readFile(layer);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 40) ^ 0xff, bytes.length - 40);
    await writeFile(layer, bytes);
    const before = await imageKeys(f);
    const res = await get(aciPath(`${MIRROR_PREFIX}/tampered`, '1.0'));
    assert.equal(res.status, 502);
    assert.equal(JSON.parse(res.body.toString()).error.code, 'UPSTREAM_DIGEST_MISMATCH');
    assert.deepEqual(await imageKeys(f), before);
    assert.equal((await get(aciPath(`${MIRROR_PREFIX}/full`, '1.0'))).status, 200);
  });
});

describe('pull-through: a moved upstream tag', () => {
  let f: MirrorFixture;
  let ca: string;
  const get = (path: string) => httpsRequest(f.setup.origin + path, { ca });

  before(async () => {
    f = await startMirror({ mirrors: { refreshSeconds: 0 } });
    ca = await readFile(f.setup.caFile, 'utf8');
  });
  after(async () => f?.close());

  it('is converted anew under a new ETag, and the earlier conversion stays under its pinned version', async () => {
    const name = `${MIRROR_PREFIX}/moving`;
    const oldDigest = await pushLayout(f.upstream, f.layout, STANDARD_IMAGES.full, 'library/moving:1.0', { format: 'v2s2' });
    const first = await get(aciPath(name, '1.0'));
    assert.equal(first.status, 200);
    const again = await get(aciPath(name, '1.0'));
    assert.equal(again.headers.etag, first.headers.etag, 'an unmoved tag keeps its conversion');
    await pushLayout(f.upstream, f.layout, STANDARD_IMAGES.plain, 'library/moving:1.0', { format: 'v2s2' });
    const moved = await get(aciPath(name, '1.0'));
    assert.equal(moved.status, 200);
    assert.notEqual(moved.headers.etag, first.headers.etag);
    const work = await tempDir('mirror-moved-');
    const plainTree = readDiskTree(unpackImage(f.layout, STANDARD_IMAGES.plain, join(work, 'plain')));
    assert.deepEqual(compareTrees(plainTree, (await readAci(moved.body)).tree), []);
    const pinned = `sha256-${oldDigest.slice(7, 23)}`;
    const kept = await acfetch({ caFile: f.setup.caFile, port: f.setup.port }, [`${name}:${pinned}`]);
    assert.equal(kept.code, 0, kept.stderr);
    const keptAci = await readAci((await get(aciPath(name, pinned))).body);
    const fullTree = readDiskTree(unpackImage(f.layout, STANDARD_IMAGES.full, join(work, 'full')));
    assert.deepEqual(compareTrees(fullTree, keptAci.tree), []);
  });
});

describe('pull-through: upstreams that ask for credentials', () => {
  const cases = [
    { auth: 'token', from: 'passwordFile', right: true },
    { auth: 'basic', from: 'passwordEnv', right: true },
    { auth: 'basic', from: 'passwordEnv', right: false },
  ] as const;
  for (const c of cases) {
    it(`${c.auth} auth, the password from ${c.from}: ${c.right ? 'logs in' : 'a wrong one answers 502 naming the setting'}`, async () => {
      const passwordFile = join(await tempDir('mirror-auth-'), 'password');
      const password = (u: { credentials?: { password: string } }) => (c.right ? u.credentials!.password : 'not the password');
      const f = await startMirror({
        upstream: { auth: c.auth },
        upstreams: (u) => [
          {
            source: `${u.host}/library/*`,
            prefix: MIRROR_PREFIX,
            caFile: u.caFile,
            username: u.credentials!.username,
            ...(c.from === 'passwordFile' ? { passwordFile } : { passwordEnv: 'UPSTREAM_PASSWORD' }),
          },
        ],
        env: (u): Record<string, string> => (c.from === 'passwordEnv' ? { UPSTREAM_PASSWORD: password(u) } : {}),
      });
      try {
        await writeFile(passwordFile, `${password(f.upstream)}\n`);
        await pushLayout(f.upstream, f.layout, STANDARD_IMAGES.plain, 'library/private:1.0', { format: 'oci' });
        const fetched = await acfetch({ caFile: f.setup.caFile, port: f.setup.port }, [`${MIRROR_PREFIX}/private:1.0`]);
        if (c.right) {
          assert.equal(fetched.code, 0, fetched.stderr);
          if (c.auth === 'token') assert.ok(f.upstream.issuedTokens.some((t) => t.username === f.upstream.credentials!.username));
        } else {
          assert.notEqual(fetched.code, 0);
          const res = await httpsRequest(f.setup.origin + aciPath(`${MIRROR_PREFIX}/private`, '1.0'), {
            ca: await readFile(f.setup.caFile, 'utf8'),
          });
          assert.equal(res.status, 502);
          assert.match(res.body.toString(), /UPSTREAM_AUTH_FAILED.*passwordEnv/);
        }
      } finally {
        await f.close();
      }
    });
  }
});
