/**
 * Upload sessions live in storage, not in the process: an upload survives a
 * restart of the server between its parts, and a session idle past
 * acpush.uploadExpirySeconds is refused and removed (on its next request or by
 * the sweep), leaving storage as it was.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { manifestOf, reserializeManifest, wireRequest, type AcpushAuth } from '../helpers/acpush-client.ts';
import { createAcpushFixture, type AcpushFixture } from '../helpers/acpush-fixture.ts';
import { scratchFiles, storageSnapshot } from '../helpers/storage-snapshot.ts';

const NAME = 'localhost/team/app';
const EXPIRY_SECONDS = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function session(fx: AcpushFixture) {
  const auth: AcpushAuth = { bearer: fx.token };
  const ca = () => fx.server.caPem;
  return {
    async start(version: string): Promise<Record<string, string>> {
      const url = `${fx.server.origin}/-/acpush/start/${NAME}/${version}/linux/amd64.aci`;
      const res = await wireRequest(url, { method: 'POST', ca: ca(), auth, body: Buffer.alloc(0) });
      assert.equal(res.status, 200, res.body.toString());
      return res.json;
    },
    put: (url: string, body: Buffer) => wireRequest(url, { method: 'PUT', ca: ca(), auth, body, chunked: true }),
    complete: (url: string) => wireRequest(url, { method: 'POST', ca: ca(), auth, body: Buffer.from('{"success":true}') }),
  };
}

describe('acpush upload sessions across a restart', () => {
  let fx: AcpushFixture;
  before(async () => {
    fx = await createAcpushFixture({ prefix: 'localhost/team' });
    await fx.keysVisible('/team');
  });
  after(() => fx?.close());

  it('finishes an upload on a new server that shares the storage', async () => {
    const { aci, asc } = await fx.signed({ version: '1.0.0' });
    const s = session(fx);
    const urls = await s.start('1.0.0');
    assert.equal((await s.put(urls.upload_manifest_url!, reserializeManifest(await manifestOf(aci)))).status, 200);
    assert.equal((await s.put(urls.upload_signature_url!, asc)).status, 200);
    const before = fx.server.running;
    await fx.server.restart();
    assert.notEqual(fx.server.running, before, 'a new server');
    assert.equal((await s.put(urls.upload_aci_url!, aci)).status, 200);
    await fx.server.restart();
    const done = await s.complete(urls.completed_url!);
    assert.deepEqual(done.json, { success: true });
    const served = await fx.server.request('/-/aci/localhost/team/app/1.0.0/linux/amd64.aci');
    assert.ok(served.body.equals(aci));
    assert.deepEqual(await scratchFiles(fx.server.storageDir), []);
  });
});

describe(`acpush upload sessions expire after ${EXPIRY_SECONDS} s idle`, () => {
  let fx: AcpushFixture;
  before(async () => {
    fx = await createAcpushFixture({ prefix: 'localhost/team', config: { acpush: { uploadExpirySeconds: EXPIRY_SECONDS } } });
    await fx.keysVisible('/team');
  });
  after(() => fx?.close());

  it('refuses the completion of an expired upload and removes its parts', async () => {
    const { aci, asc } = await fx.signed({ version: '2.0.0' });
    const s = session(fx);
    const before = await storageSnapshot(fx.server.storageDir);
    const urls = await s.start('2.0.0');
    assert.equal((await s.put(urls.upload_manifest_url!, reserializeManifest(await manifestOf(aci)))).status, 200);
    assert.equal((await s.put(urls.upload_signature_url!, asc)).status, 200);
    assert.equal((await s.put(urls.upload_aci_url!, aci)).status, 200);
    assert.notDeepEqual(await storageSnapshot(fx.server.storageDir), before, 'the parts are stored');
    await sleep(EXPIRY_SECONDS * 1000 + 300);
    const done = await s.complete(urls.completed_url!);
    assert.deepEqual([done.status, done.json.success, done.json.reason], [200, false, 'ACPUSH_UPLOAD_EXPIRED']);
    assert.match(done.json.server_reason, /run acpush again/);
    assert.deepEqual(await storageSnapshot(fx.server.storageDir), before, 'storage unchanged');
    const served = await fx.server.request('/-/aci/localhost/team/app/2.0.0/linux/amd64.aci');
    assert.equal(served.status, 404);
  });

  it('refuses a part of an expired upload with 404', async () => {
    const { aci } = await fx.signed({ version: '2.0.1' });
    const s = session(fx);
    const before = await storageSnapshot(fx.server.storageDir);
    const urls = await s.start('2.0.1');
    await sleep(EXPIRY_SECONDS * 1000 + 300);
    const late = await s.put(urls.upload_aci_url!, aci);
    assert.deepEqual([late.status, late.json.error.code], [404, 'ACPUSH_UPLOAD_EXPIRED']);
    assert.deepEqual(await storageSnapshot(fx.server.storageDir), before, 'storage unchanged');
  });

  it('keeps an upload alive while its parts keep arriving', async () => {
    const { aci, asc } = await fx.signed({ version: '2.0.2' });
    const s = session(fx);
    const urls = await s.start('2.0.2');
    await sleep(EXPIRY_SECONDS * 500);
    assert.equal((await s.put(urls.upload_manifest_url!, reserializeManifest(await manifestOf(aci)))).status, 200);
    await sleep(EXPIRY_SECONDS * 500);
    assert.equal((await s.put(urls.upload_signature_url!, asc)).status, 200);
    assert.equal((await s.put(urls.upload_aci_url!, aci)).status, 200);
    assert.deepEqual((await s.complete(urls.completed_url!)).json, { success: true });
  });

  it('removes abandoned uploads in the sweep', async () => {
    const { aci, asc } = await fx.signed({ version: '2.0.3' });
    const s = session(fx);
    const before = await storageSnapshot(fx.server.storageDir);
    const urls = await s.start('2.0.3');
    assert.equal((await s.put(urls.upload_signature_url!, asc)).status, 200);
    assert.equal((await s.put(urls.upload_aci_url!, aci)).status, 200);
    await fx.server.running.registry.sweep();
    assert.notDeepEqual(await storageSnapshot(fx.server.storageDir), before, 'a live upload is kept');
    await sleep(EXPIRY_SECONDS * 1000 + 300);
    await fx.server.running.registry.sweep();
    assert.deepEqual(await storageSnapshot(fx.server.storageDir), before, 'storage unchanged');
  });
});
