/**
 * DELETE /-/api/images/NAME/VERSION/OS/ARCH: scopes and prefixes, what disappears
 * (image, signature, record, blob) and in which order, `latest` moving to the next
 * version, the tombstone that refuses a silent re-push, and the audit lines.
 */
import { access, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { layout } from '../../src/storage/layout.ts';
import { readAudit } from '../helpers/audit.ts';
import { createFixture, type Fixture } from '../helpers/fixture.ts';
import { fetchContract, type ApiContract } from '../helpers/openapi.ts';
import { curlPush } from '../helpers/push.ts';

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );
const APP = 'localhost/team/app';
const V = (version: string) => ({ name: APP, version, os: 'linux', arch: 'amd64' });

describe('deleting a version', () => {
  let f: Fixture;
  let deleter: string;
  let deleterOther: string;
  let overwriter: string;
  let published200: Buffer;
  let contract: ApiContract;

  const del = async (path: string, token?: string) => {
    const res = await f.server.request(`/-/api/images/${path}`, {
      method: 'DELETE',
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    contract.check('deleteVersion', res);
    return { ...res, json: JSON.parse(res.body.toString()) };
  };

  before(async () => {
    f = await createFixture({ prefix: 'localhost/team' });
    contract = await fetchContract(f.server);
    for (const v of ['1.0.0', '1.1.0', '2.0.0']) {
      const res = await f.push({ name: APP, version: v });
      assert.equal(res.status, 201);
      published200 = res.aci;
    }
    deleter = await f.createToken(['--prefix', 'localhost/team', '--scope', 'delete']);
    deleterOther = await f.createToken(['--prefix', 'localhost/other', '--scope', 'delete']);
    overwriter = await f.createToken(['--prefix', 'localhost/team', '--scope', 'push', '--scope', 'overwrite']);
  });
  after(() => f?.close());

  it('needs a token (401 with WWW-Authenticate), the delete scope and a covering prefix (403)', async () => {
    const none = await del(`${APP}/2.0.0/linux/amd64`);
    assert.equal(none.status, 401);
    assert.equal(none.json.error.code, 'TOKEN_MISSING');
    assert.ok(none.headers['www-authenticate']);
    const pushOnly = await del(`${APP}/2.0.0/linux/amd64`, f.token);
    assert.equal(pushOnly.status, 403);
    assert.equal(pushOnly.json.error.code, 'TOKEN_SCOPE_MISSING');
    const elsewhere = await del(`${APP}/2.0.0/linux/amd64`, deleterOther);
    assert.equal(elsewhere.status, 403);
    assert.equal(elsewhere.json.error.code, 'PREFIX_NOT_ALLOWED');
    assert.equal((await f.server.request(`/-/aci/${APP}/2.0.0/linux/amd64.aci`)).status, 200, 'still there');
  });

  it('answers 404 for an unknown version or a malformed path, and 422 for latest', async () => {
    const unknown = await del(`${APP}/9.9.9/linux/amd64`, deleter);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.error.code, 'IMAGE_NOT_FOUND');
    const short = await del('localhost/x', deleter);
    assert.equal(short.status, 404);
    const latest = await del(`${APP}/latest/linux/amd64`, deleter);
    assert.equal(latest.status, 422);
    assert.equal(latest.json.error.code, 'VERSION_RESERVED');
  });

  it('removes the .aci, .aci.asc and metadata, and latest resolves to the next version', async () => {
    const before = (await f.server.request(`/-/api/images/${APP}`)).body.toString();
    const record = JSON.parse(before).versions.find((v: { version: string }) => v.version === '2.0.0');
    const recordPath = join(f.server.storageDir, layout.versionRecord(V('2.0.0')));
    assert.ok(await exists(recordPath));
    const blobsBefore = await readdir(join(f.server.storageDir, 'blobs'));

    const res = await del(`${APP}/2.0.0/linux/amd64`, deleter);
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.json.deleted.version, '2.0.0');
    assert.equal(res.json.deleted.imageId, record.imageId);
    assert.equal(res.json.latest.version, '1.1.0');

    for (const ext of ['aci', 'aci.asc']) {
      const gone = await f.server.request(`/-/aci/${APP}/2.0.0/linux/amd64.${ext}`);
      assert.equal(gone.status, 404, ext);
    }
    assert.equal(await exists(recordPath), false, 'version record deleted');
    assert.equal((await readdir(join(f.server.storageDir, 'blobs'))).length, blobsBefore.length - 1, 'blob deleted');
    const tombstones = await readdir(join(f.server.storageDir, layout.recordTombstones(V('2.0.0'))));
    assert.equal(tombstones.length, 1, 'tombstone kept');

    const latest = await f.server.request(`/-/aci/${APP}/latest/linux/amd64.aci`);
    assert.equal(latest.status, 200);
    const v110 = JSON.parse((await f.server.request(`/-/api/images/${APP}`)).body.toString()).versions[0];
    assert.equal(v110.version, '1.1.0');
    assert.equal(latest.headers.etag, (await f.server.request(`/-/aci/${APP}/1.1.0/linux/amd64.aci`)).headers.etag);
    const page = (await f.server.request('/team/app')).body.toString();
    assert.doesNotMatch(page, />2\.0\.0</);
  });

  it('refuses to re-push a deleted version without the overwrite scope, even with the same bytes', async () => {
    const aci = join(f.server.dir, 'same-bytes.aci');
    await writeFile(aci, published200);
    const asc = await f.gpg.signFile(aci, f.key.fingerprint);
    const again = await curlPush({ origin: f.server.origin, caFile: f.server.caFile, token: f.token, aci, asc });
    assert.equal(again.status, 409, again.raw);
    assert.equal(again.json.error.code, 'VERSION_DELETED');
    assert.match(again.json.error.message, /overwrite/);
    assert.equal((await f.server.request(`/-/aci/${APP}/2.0.0/linux/amd64.aci`)).status, 404);
  });

  it('re-publishes a deleted version for a token with the overwrite scope', async () => {
    const pushToken = f.token;
    f.token = overwriter;
    try {
      const again = await f.push({ name: APP, version: '2.0.0', labels: [{ name: 'rebuilt', value: 'yes' }] });
      assert.equal(again.status, 201, again.raw);
    } finally {
      f.token = pushToken;
    }
    assert.equal((await f.server.request(`/-/aci/${APP}/2.0.0/linux/amd64.aci`)).status, 200);
  });

  it('deletes the last version of a name, which then leaves the listing', async () => {
    assert.equal((await f.push({ name: 'localhost/team/once', version: '1.0.0' })).status, 201);
    const res = await del('localhost/team/once/1.0.0/linux/amd64', deleter);
    assert.equal(res.status, 200);
    assert.equal(res.json.latest, null);
    const list = JSON.parse((await f.server.request('/-/api/images')).body.toString());
    assert.ok(!list.images.some((i: { name: string }) => i.name === 'localhost/team/once'));
    assert.equal((await f.server.request('/-/api/images/localhost/team/once')).status, 404);
  });

  it('writes one audit line per delete, refused ones included', async () => {
    const events = (await readAudit(f.server.storageDir)).filter((e) => e.action === 'delete');
    const deleted = events.find((e) => e.result === 'deleted' && e.version === '2.0.0')!;
    assert.ok(deleted, JSON.stringify(events));
    assert.equal(deleted.actor, deleter.split('_')[1]);
    assert.equal(deleted.name, APP);
    assert.equal(deleted.os, 'linux');
    assert.equal(deleted.arch, 'amd64');
    assert.match(deleted.imageId!, /^sha512-[0-9a-f]{128}$/);
    assert.ok(Date.parse(deleted.time));
    const refused = events.filter((e) => e.result === 'refused').map((e) => e.code);
    assert.deepEqual(refused.sort(), ['IMAGE_NOT_FOUND', 'PREFIX_NOT_ALLOWED', 'TOKEN_SCOPE_MISSING', 'VERSION_RESERVED']);
  });
});
