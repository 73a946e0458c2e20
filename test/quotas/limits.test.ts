/**
 * Quotas per prefix through curl's /-/push: a byte or version limit takes what fits
 * exactly and refuses one more, before anything is stored: at admission when the quota is
 * full or the declared length cannot fit, mid-stream when the image grows past what is
 * left, and at the commit when only the manifest names a narrower quota. Deletes free
 * quota again.
 */
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildAci } from '../helpers/aci-builder.ts';
import { buildTestApp, type TestApp } from '../helpers/app.ts';
import { scratchFiles, storageSnapshot, storedKeys } from '../helpers/storage-snapshot.ts';
import type { QuotaLimits } from '../../src/registry/quota/quota-store.ts';

describe('quotas: limits on bytes and versions', () => {
  let t: TestApp;
  let n = 0;

  before(async () => {
    t = await buildTestApp();
  });
  after(() => t?.close());

  const image = (name: string, randomSize = 0) =>
    buildAci({ name, version: `1.0.${++n}`, entries: randomSize ? [{ name: 'rootfs/blob', body: randomBytes(randomSize) }] : [] });
  const setQuota = (prefix: string, limits: Partial<QuotaLimits>) =>
    t.registry.quotas.store.set(prefix, { maxBytes: null, maxVersions: null, ...limits });
  const useOf = (prefix: string) => t.registry.quotas.uses().find((q) => q.prefix === prefix)!;
  const pushToken = (prefix: string) => t.token(['push'], [prefix]);

  async function accepted(aci: Buffer, token: string): Promise<void> {
    const res = await t.publish(aci, token);
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }

  /** Pushes `aci` and expects QUOTA_EXCEEDED naming `prefix`, with nothing stored and no scratch left. */
  async function refused(aci: Buffer, token: string, prefix: string, says: RegExp): Promise<string> {
    const before = await storageSnapshot(t.storageDir);
    const res = await t.publish(aci, token);
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'QUOTA_EXCEEDED');
    const message: string = res.body.error.message;
    assert.ok(message.includes(`the quota of ${prefix} allows`), message);
    assert.ok(message.includes(`acihost quota set --prefix ${prefix}`) && message.includes('delete versions'), message);
    assert.match(message, says);
    assert.deepEqual(await storageSnapshot(t.storageDir), before, 'storage unchanged');
    assert.deepEqual(await scratchFiles(t.storageDir), [], 'no scratch left');
    return message;
  }

  it('takes an image that fills the byte quota exactly, and refuses one a byte larger as it streams past', async () => {
    const prefix = 'localhost/exact';
    const token = await pushToken(prefix);
    const first = await image(`${prefix}/app`);
    await setQuota(prefix, { maxBytes: first.length });
    await accepted(first, token);
    assert.deepEqual([useOf(prefix).usedBytes, useOf(prefix).usedVersions], [first.length, 1]);

    const second = await image(`${prefix}/app`);
    await setQuota(prefix, { maxBytes: first.length + second.length - 1 });
    const message = await refused(second, token, prefix, new RegExp(`larger than the ${second.length - 1} bytes left`));
    assert.ok(message.includes(`hold ${first.length} bytes`), message);

    await setQuota(prefix, { maxBytes: first.length + second.length });
    await accepted(second, token);
    assert.equal(useOf(prefix).usedBytes, first.length + second.length);
  });

  it('refuses before reading the body a push whose declared length cannot fit, and one at the limit already', async () => {
    const prefix = 'localhost/declared';
    const token = await pushToken(prefix);
    const big = await image(`${prefix}/app`, 300 * 1024);
    await setQuota(prefix, { maxBytes: 100 * 1024 });
    await refused(big, token, prefix, /this push of at least \d+ bytes does not fit/);

    const small = await image(`${prefix}/app`);
    await setQuota(prefix, { maxBytes: small.length });
    await accepted(small, token);
    await refused(await image(`${prefix}/app`), token, prefix, /no bytes are left/);
  });

  it('counts versions: the last that fits is taken, one more refused, and a delete frees one', async () => {
    const prefix = 'localhost/versions';
    const token = await pushToken(prefix);
    await setQuota(prefix, { maxVersions: 2 });
    await accepted(await image(`${prefix}/a`), token);
    await accepted(await image(`${prefix}/b/c`), token);
    const message = await refused(await image(`${prefix}/a`), token, prefix, /this push would add a version/);
    assert.ok(message.includes('allows 2 versions at or below it; 2 are published there'), message);

    const [gone] = t.registry.catalog.versionsOf(`${prefix}/a`);
    const del = await t.app.inject({
      method: 'DELETE',
      url: `/-/api/images/${gone!.name}/${gone!.version}/linux/amd64`,
      headers: { authorization: `Bearer ${await t.token(['delete'])}` },
    });
    assert.equal(del.statusCode, 200, del.body);
    assert.equal(useOf(prefix).usedVersions, 1);
    await accepted(await image(`${prefix}/a`), token);
  });

  it('counts every name at or below the prefix, segment-aligned', async () => {
    const prefix = 'localhost/seg';
    await setQuota(prefix, { maxVersions: 1 });
    const token = await t.token(['push'], ['localhost']);
    await accepted(await image(`${prefix}x/app`), token);
    await accepted(await image(prefix), token);
    assert.equal(useOf(prefix).usedVersions, 1, 'localhost/segx is not below localhost/seg');
    await refused(await image(`${prefix}/deep/er`), token, prefix, /would add a version/);
  });

  it('judges a quota narrower than the token once the manifest names the image, and stores nothing', async () => {
    const prefix = 'localhost/narrow/app';
    const token = await t.token(['push'], ['localhost']);
    const aci = await image(prefix);
    await setQuota(prefix, { maxBytes: aci.length - 1 });
    await refused(aci, token, prefix, new RegExp(`this image of ${aci.length} bytes does not fit`));
    await setQuota(prefix, { maxBytes: aci.length });
    await accepted(aci, token);
  });

  it('holds from the next push once set, and no more once removed', async () => {
    const prefix = 'localhost/lifted';
    const token = await pushToken(prefix);
    await setQuota(prefix, { maxVersions: 0 });
    await refused(await image(`${prefix}/app`), token, prefix, /allows 0 versions/);
    await t.registry.quotas.store.remove(prefix);
    await accepted(await image(`${prefix}/app`), token);
  });

  it('leaves no claim behind', async () => {
    assert.deepEqual(
      (await storedKeys(t.storageDir)).filter((k) => k.startsWith('quota-claims/')),
      [],
    );
  });
});
