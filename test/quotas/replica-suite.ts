/**
 * Quotas over replicas sharing one store: a quota set with the CLI holds on every
 * replica; what one publishes counts on the others at once (their judgement reads the
 * change journal), what one deletes frees quota on the others, and pushes split over the
 * replicas at once never pass the quota. Run over the filesystem
 * (test/quotas/replicas.test.ts) and over S3 (test/s3/quotas.test.ts).
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildAci } from '../helpers/aci-builder.ts';
import { createGpg, type Gpg, type GpgKey } from '../helpers/gpg.ts';
import { curlPush } from '../helpers/push.ts';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.ts';
import { tempDir } from '../helpers/temp-dir.ts';

export function quotaReplicaSuite(title: string, storageEnv: () => Promise<Record<string, string>>): void {
  describe(title, () => {
    let replicas: TestServer[];
    let gpg: Gpg;
    let key: GpgKey;
    let token: string;
    let n = 0;

    before(async () => {
      const env = await storageEnv();
      const certsDir = join(await tempDir('acihost-quota-replicas-'), 'certs');
      // One after the other: the first makes the development CA the other reuses.
      replicas = [];
      for (let i = 0; i < 2; i++)
        replicas.push(await startTestServer({ env, certsDir, config: { limits: { maxConcurrentUploadsPerToken: 64 } } }));
      gpg = await createGpg();
      key = await gpg.genKey({ algo: 'rsa2048' });
      const keyFile = join(replicas[0]!.dir, 'k.asc');
      await writeFile(keyFile, await gpg.exportPublic(key.fingerprint));
      assert.equal((await replicas[0]!.cli(['key', 'add', '--prefix', 'localhost', keyFile])).code, 0);
      const created = await replicas[0]!.cli(['token', 'create', '--prefix', 'localhost', '--scope', 'push', '--scope', 'delete']);
      token = created.stdout.split('\n')[0]!;
      for (const r of replicas)
        await waitFor('the trusted key', async () =>
          (await r.request('/?ac-discovery=1')).body.toString().includes('pubkeys') ? true : undefined,
        );
    });
    after(async () => {
      for (const r of replicas ?? []) await r.close();
      await gpg?.cleanup();
    });

    async function image(name: string, size = 0) {
      const aciPath = join(replicas[0]!.dir, `q-${++n}.aci`);
      const aci = await buildAci({ name, version: `1.0.${n}`, entries: size ? [{ name: 'rootfs/blob', body: randomBytes(size) }] : [] });
      await writeFile(aciPath, aci);
      return { aci: aciPath, asc: await gpg.signFile(aciPath, key.fingerprint), bytes: aci.length };
    }
    const push = (via: TestServer, img: { aci: string; asc: string }) =>
      curlPush({ origin: via.origin, caFile: via.caFile, token, ...img });

    async function quotaSet(prefix: string, ...limits: string[]): Promise<void> {
      const r = await replicas[1]!.cli(['quota', 'set', '--prefix', prefix, ...limits]);
      assert.equal(r.code, 0, r.stderr);
    }

    async function shown(via: TestServer, prefix: string): Promise<{ usedBytes: number; usedVersions: number } | undefined> {
      const res = await via.request(`/-/api/quotas?prefix=${prefix}`);
      return JSON.parse(res.body.toString()).quotas.find((q: { prefix: string }) => q.prefix === prefix);
    }

    it('a push through one replica counts on the other at once, and its delete frees the quota there', async () => {
      const prefix = 'localhost/fleet';
      await quotaSet(prefix, '--max-versions', '2');
      assert.equal((await push(replicas[0]!, await image(`${prefix}/a`))).status, 201);
      assert.equal((await push(replicas[0]!, await image(`${prefix}/b`))).status, 201);
      const refused = await push(replicas[1]!, await image(`${prefix}/c`));
      assert.equal(refused.status, 403, refused.raw);
      assert.equal(refused.json.error.code, 'QUOTA_EXCEEDED');
      await waitFor(
        'the use on the other replica',
        async () => ((await shown(replicas[1]!, prefix))?.usedVersions === 2 ? true : undefined),
        2000,
      );

      const del = await replicas[1]!.request(`/-/api/images/${prefix}/a/1.0.${n - 2}/linux/amd64`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(del.status, 200, del.body.toString());
      assert.equal(
        (await push(replicas[0]!, await image(`${prefix}/c`))).status,
        201,
        'the delete on one replica freed a version on the other',
      );
    });

    it('pushes split over the replicas at once never pass a byte quota', async () => {
      const prefix = 'localhost/split';
      const images = await Promise.all(Array.from({ length: 12 }, () => image(`${prefix}/app`, 16 * 1024)));
      const largest = Math.max(...images.map((i) => i.bytes));
      const limit = largest * 4 + 100;
      await quotaSet(prefix, '--max-bytes', String(limit));
      const results = await Promise.all(images.map((img, i) => push(replicas[i % 2]!, img)));
      assert.ok(
        results.every((r) => r.status === 201 || r.json?.error?.code === 'QUOTA_EXCEEDED'),
        results.map((r) => r.raw).join('\n'),
      );
      const created = images.filter((_, i) => results[i]!.status === 201);
      const bytes = created.reduce((sum, i) => sum + i.bytes, 0);
      assert.ok(bytes <= limit, `${bytes} bytes published under a quota of ${limit}`);
      assert.equal(created.length, 4, results.map((r) => r.status).join(','));
      for (const r of replicas) {
        await waitFor(`the use on ${r.origin}`, async () => ((await shown(r, prefix))?.usedBytes === bytes ? true : undefined), 2000);
      }
    });
  });
}
