/** Concurrent pushes, and credentials that change while a push is in flight. */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildAci } from '../helpers/aci-builder.ts';
import { createFixture, type Fixture } from '../helpers/fixture.ts';
import { curlPush } from '../helpers/push.ts';
import { scratchFiles, storageSnapshot } from '../helpers/storage-snapshot.ts';

describe('races', () => {
  let f: Fixture;
  before(async () => {
    // Sixteen uploads at once with one token: the race, not the per-token limit, is under test.
    f = await createFixture({ config: { limits: { maxConcurrentUploadsPerToken: 64 } } });
  });
  after(() => f?.close());

  let files = 0;
  async function prepare(name: string, version: string, extra?: string) {
    const aci = await buildAci({ name, version, entries: extra ? [{ name: 'rootfs/extra', body: extra }] : [] });
    const aciPath = join(f.server.dir, `race-${++files}.aci`);
    await writeFile(aciPath, aci);
    return { aci, aciPath, ascPath: await f.gpg.signFile(aciPath, f.key.fingerprint) };
  }
  const push = (p: { aciPath: string; ascPath: string }, extraArgs?: string[], token = f.token) =>
    curlPush({ origin: f.server.origin, caFile: f.server.caFile, token, aci: p.aciPath, asc: p.ascPath, extraArgs });

  it('16 pushes of one version with different bytes: one 201, fifteen 409, the winner served', async () => {
    const images = await Promise.all(Array.from({ length: 16 }, (_, i) => prepare('localhost/race/app', '1.0.0', `variant ${i}`)));
    const results = await Promise.all(images.map((p) => push(p)));
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [201, ...Array(15).fill(409)], results.map((r) => r.raw).join('\n'));
    const winner = images[results.findIndex((r) => r.status === 201)]!;
    const served = await f.server.request('/-/aci/localhost/race/app/1.0.0/linux/amd64.aci');
    assert.ok(served.body.equals(winner.aci));
    assert.deepEqual(await scratchFiles(f.server.storageDir), []);
    const blobs = (await storageSnapshot(f.server.storageDir)).filter((l) => l.startsWith('blobs/'));
    assert.equal(blobs.length, 1, 'losers left no blob behind');
  });

  it('16 pushes of identical bytes: one 201, fifteen 200', async () => {
    const p = await prepare('localhost/race/same', '1.0.0');
    const results = await Promise.all(Array.from({ length: 16 }, () => push(p)));
    assert.deepEqual(results.map((r) => r.status).sort(), [...Array(15).fill(200), 201]);
    assert.ok(results.every((r) => r.json.imageId === results[0]!.json.imageId));
  });

  it('concurrent pushes of different versions all land, and latest ends at the highest', async () => {
    const versions = ['1.2.0', '1.10.0', '0.9.0', '1.9.9', '1.10.0-rc.2', '1.3.0', '1.0.1', '1.10.0-beta'];
    const images = await Promise.all(versions.map((v) => prepare('localhost/race/many', v)));
    const results = await Promise.all(images.map((p) => push(p)));
    assert.deepEqual(
      results.map((r) => r.status),
      versions.map(() => 201),
    );
    const latest = await f.server.request('/-/aci/localhost/race/many/latest/linux/amd64.aci');
    assert.ok(latest.body.equals(images[versions.indexOf('1.10.0')]!.aci));
  });

  describe('credentials changing during an upload', () => {
    // About 300 KiB sent at 60 KiB/s: five seconds in flight, long enough to change things.
    const slow = ['--limit-rate', '60k'];
    const big = (tag: string) => prepare('localhost/inflight/app', tag, randomBytes(200 * 1024).toString('base64'));

    it('a token revoked mid-upload does not publish (401), and nothing is stored', async () => {
      const token = await f.createToken(['--prefix', 'localhost/inflight']);
      const list = JSON.parse((await f.server.cli(['token', 'list', '--json'])).stdout) as { id: string }[];
      const id = list.find((t) => token.includes(t.id))!.id;
      const p = await big('2.0.0');
      const before = await storageSnapshot(f.server.storageDir);
      const pushing = push(p, slow, token);
      assert.equal((await f.server.cli(['token', 'revoke', id])).code, 0);
      const res = await pushing;
      assert.equal(res.status, 401, res.raw);
      assert.deepEqual(
        await storageSnapshot(f.server.storageDir),
        before.filter((l) => !l.startsWith(`tokens/${id}`)),
      );
      assert.deepEqual(await scratchFiles(f.server.storageDir), []);
    });

    it('a key removed mid-upload does not publish (422), and nothing is stored', async () => {
      const key = await f.gpg.genKey({ algo: 'rsa2048' });
      await f.trust(key, 'localhost/inflight');
      const p = await big('2.0.1');
      const ascPath = await f.gpg.signFile(p.aciPath, key.fingerprint, { out: p.aciPath + '.k2.asc' });
      const pushing = push({ aciPath: p.aciPath, ascPath }, slow);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal((await f.server.cli(['key', 'remove', key.fingerprint])).code, 0);
      const res = await pushing;
      assert.equal(res.status, 422, res.raw);
      assert.match(res.json.error.code, /^SIGNATURE_(UNTRUSTED_KEY|KEY_NOT_TRUSTED_FOR_NAME)$/);
      assert.equal((await f.server.request('/-/aci/localhost/inflight/app/2.0.1/linux/amd64.aci')).status, 404);
      assert.deepEqual(await scratchFiles(f.server.storageDir), []);
    });
  });
});
