/**
 * Sixteen curl pushes at once into a prefix with room for a few: what is stored never
 * passes the quota, as many as fit are published (older claims go first, newer ones give
 * way), every other push is refused with QUOTA_EXCEEDED, and no claim or scratch is left.
 */
import { randomBytes } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildAci } from '../helpers/aci-builder.ts';
import { createFixture, type Fixture } from '../helpers/fixture.ts';
import { curlPush } from '../helpers/push.ts';
import { scratchFiles, storedKeys } from '../helpers/storage-snapshot.ts';

const PUSHES = 16;

describe('quotas: sixteen concurrent pushes near the limit', () => {
  let f: Fixture;
  let n = 0;

  before(async () => {
    // Every push on one token: its upload slots must not be what refuses them.
    f = await createFixture({ prefix: 'localhost', config: { limits: { maxConcurrentUploadsPerToken: 64 } } });
  });
  after(() => f?.close());

  /** Signed .aci files under `name`, each with `size` incompressible bytes, distinct versions. */
  async function images(name: string, size: number): Promise<{ aci: string; asc: string; bytes: number }[]> {
    return Promise.all(
      Array.from({ length: PUSHES }, async () => {
        const aci = join(f.server.dir, `race-${++n}.aci`);
        const bytes = await buildAci({ name, version: `1.0.${n}`, entries: [{ name: 'rootfs/blob', body: randomBytes(size) }] });
        await writeFile(aci, bytes);
        return { aci, asc: await f.gpg.signFile(aci, f.key.fingerprint), bytes: bytes.length };
      }),
    );
  }

  const pushAll = (files: { aci: string; asc: string }[]) =>
    Promise.all(files.map((file) => curlPush({ origin: f.server.origin, caFile: f.server.caFile, token: f.token, ...file })));

  /** The versions stored under `prefix`, read from storage itself, and their bytes. */
  async function stored(prefix: string): Promise<{ versions: number; bytes: number }> {
    const records = (await storedKeys(f.server.storageDir)).filter((k) => k.startsWith(`images/${prefix}/`) && k.includes('/_v/'));
    let bytes = 0;
    for (const key of records) bytes += JSON.parse(await readFile(join(f.server.storageDir, key), 'utf8')).size;
    return { versions: records.length, bytes };
  }

  async function nothingLeft(): Promise<void> {
    const claims = await readdir(join(f.server.storageDir, 'quota-claims')).catch(() => []);
    assert.deepEqual(claims, [], 'no claim left');
    assert.deepEqual(await scratchFiles(f.server.storageDir), [], 'no scratch left');
  }

  async function setQuota(prefix: string, limit: '--max-bytes' | '--max-versions', value: number): Promise<void> {
    const r = await f.server.cli(['quota', 'set', '--prefix', prefix, limit, String(value)]);
    assert.equal(r.code, 0, r.stderr);
  }

  for (const [what, size] of [
    ['small images, judged as they stream and at their commit', 20 * 1024],
    ['large images, whose declared lengths are claimed at admission', 200 * 1024],
  ] as const) {
    it(`bytes, ${what}: never past the quota, and as many as fit`, async () => {
      const prefix = `localhost/bytes-${size}`;
      const files = await images(`${prefix}/app`, size);
      const largest = Math.max(...files.map((file) => file.bytes));
      const smallest = Math.min(...files.map((file) => file.bytes));
      // Room for five of any of them, never for six.
      const limit = largest * 5 + Math.floor(smallest / 2);
      assert.ok(limit < smallest * 6);
      await setQuota(prefix, '--max-bytes', limit);

      const results = await pushAll(files);
      const statuses = results.map((r) => r.status);
      assert.ok(
        results.every((r) => r.status === 201 || (r.status === 403 && r.json?.error?.code === 'QUOTA_EXCEEDED')),
        results.map((r) => `${r.status} ${r.raw.slice(0, 300)}`).join('\n'),
      );
      const use = await stored(prefix);
      assert.ok(use.bytes <= limit, `${use.bytes} bytes stored under a quota of ${limit}`);
      assert.equal(statuses.filter((s) => s === 201).length, 5, statuses.join(','));
      assert.equal(use.versions, 5);
      await nothingLeft();
    });
  }

  it('versions: the claims made first are published, the others refused before their bodies are read', async () => {
    const prefix = 'localhost/versions';
    await setQuota(prefix, '--max-versions', 3);
    const results = await pushAll(await images(`${prefix}/app`, 1024));
    const created = results.filter((r) => r.status === 201).length;
    assert.equal(created, 3, results.map((r) => `${r.status} ${r.raw.slice(0, 200)}`).join('\n'));
    for (const r of results.filter((r) => r.status !== 201)) {
      assert.equal(r.json?.error?.code, 'QUOTA_EXCEEDED', r.raw);
      assert.match(r.json.error.message, /this push would add a version/);
    }
    assert.equal((await stored(prefix)).versions, 3);
    await nothingLeft();
  });
});
