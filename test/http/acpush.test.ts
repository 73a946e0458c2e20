/**
 * Pushing with acpush's protocol, replayed byte for byte over real HTTPS
 * (test/helpers/acpush-client.ts): discovery of the push endpoint, the happy
 * path with Basic and Bearer auth, parts in every order, then the published
 * image fetched and verified by acfetch as rkt fetch would.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { ACPUSH_ORDER, metaTags, type AcpushPart } from '../helpers/acpush-client.ts';
import { createAcpushFixture, type AcpushFixture } from '../helpers/acpush-fixture.ts';
import { scratchFiles } from '../helpers/storage-snapshot.ts';

const run = promisify(execFile);
const ACFETCH = new URL('../../.cache/acfetch', import.meta.url).pathname;

const permutations = <T>(xs: readonly T[]): T[][] =>
  xs.length <= 1 ? [[...xs]] : xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));

describe('acpush: publish through the same pipeline as /-/push', () => {
  let fx: AcpushFixture;

  before(async () => {
    fx = await createAcpushFixture({ prefix: 'localhost/team' });
    await fx.keysVisible('/team');
  });
  after(() => fx?.close());

  it('offers the push endpoint for a trusted prefix before any image exists', async () => {
    const res = await fx.server.request('/team/app?ac-discovery=1');
    assert.equal(res.status, 200);
    const tags = metaTags(res.body.toString());
    assert.deepEqual(
      tags.map((t) => `${t.name} ${t.prefix}`),
      ['ac-discovery-pubkeys localhost/team', 'ac-push-discovery localhost/team'],
    );
    assert.equal(tags[1]!.template, `${fx.server.origin}/-/acpush/start/{name}/{version}/{os}/{arch}.{ext}`);
  });

  it('publishes as acpush does (Basic auth, any user name), and acfetch fetches and verifies the image', async () => {
    const { aci, asc } = await fx.signed({ version: '1.0.0' });
    const r = await fx.acpush({ aci, asc, name: 'localhost/team/app', version: '1.0.0' });
    assert.equal(r.stderr, '');
    assert.equal(r.exitCode, 0);
    assert.equal(r.start!.status, 200);
    const base = `${fx.server.origin}/-/acpush/uploads/`;
    const id = String(r.start!.json.upload_manifest_url).slice(base.length).split('/')[0]!;
    assert.match(id, /^[A-Za-z0-9_-]{43}$/, 'an unguessable session id');
    assert.deepEqual(r.start!.json, {
      aci_push_version: '0.0.1',
      multipart: false,
      upload_manifest_url: `${base}${id}/manifest`,
      upload_signature_url: `${base}${id}/signature`,
      upload_aci_url: `${base}${id}/aci`,
      completed_url: `${base}${id}/complete`,
    });
    assert.deepEqual(
      r.parts,
      ACPUSH_ORDER.map((part) => ({ part, status: 200 })),
    );
    assert.deepEqual(r.completion!.json, { success: true });

    const imageId = 'sha512-' + createHash('sha512').update(gunzipSync(aci)).digest('hex');
    const { stdout } = await run(ACFETCH, ['--cafile', fx.server.caFile, '--port', String(fx.server.port), 'localhost/team/app:1.0.0']);
    assert.equal(stdout.trim(), imageId);
    assert.deepEqual(await scratchFiles(fx.server.storageDir), [], 'no scratch left');
    assert.deepEqual(await uploadsLeft(), [], 'the session is gone');
  });

  it('lists ac-discovery, then the keys, then ac-push-discovery for each stored name', async () => {
    const res = await fx.server.request('/team?ac-discovery=1');
    assert.deepEqual(
      metaTags(res.body.toString()).map((t) => `${t.name} ${t.prefix}`),
      ['ac-discovery localhost/team/app', 'ac-discovery-pubkeys localhost/team', 'ac-push-discovery localhost/team/app'],
    );
  });

  it('publishes with a Bearer token, and a version left out means the manifest version', async () => {
    const { aci, asc } = await fx.signed({ version: '1.1.0' });
    const r = await fx.acpush({ aci, asc, name: 'localhost/team/app', auth: { bearer: fx.token } });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.start!.json.upload_aci_url, /^https:/);
    const served = await fx.server.request('/-/aci/localhost/team/app/1.1.0/linux/amd64.aci');
    assert.equal(served.status, 200);
    assert.ok(served.body.equals(aci));
  });

  it('accepts the parts in every order', async () => {
    const orders = permutations<AcpushPart>(ACPUSH_ORDER);
    assert.equal(orders.length, 6);
    for (const [i, order] of orders.entries()) {
      const version = `2.0.${i}`;
      const { aci, asc } = await fx.signed({ version });
      const r = await fx.acpush({ aci, asc, name: 'localhost/team/app', version, order });
      assert.equal(r.exitCode, 0, `${order.join(',')}: ${r.stderr}`);
      const [image, sig] = await Promise.all([
        fx.server.request(`/-/aci/localhost/team/app/${version}/linux/amd64.aci`),
        fx.server.request(`/-/aci/localhost/team/app/${version}/linux/amd64.aci.asc`),
      ]);
      assert.ok(image.body.equals(aci), order.join(','));
      assert.match(sig.body.toString(), /^-----BEGIN PGP SIGNATURE-----/);
    }
    assert.deepEqual(await uploadsLeft(), []);
  });

  it('publishes a new name under the trusted prefix, found through the prefix tags alone', async () => {
    const { aci, asc } = await fx.signed({ name: 'localhost/team/brand/new', version: '0.1.0' });
    const r = await fx.acpush({ aci, asc, name: 'localhost/team/brand/new', version: '0.1.0' });
    assert.equal(r.exitCode, 0, r.stderr);
  });

  it('answers an identical retry with success, as /-/push answers 200', async () => {
    const { aci, asc } = await fx.signed({ version: '3.0.0' });
    for (const attempt of [1, 2]) {
      const r = await fx.acpush({ aci, asc, name: 'localhost/team/app', version: '3.0.0' });
      assert.equal(r.exitCode, 0, `attempt ${attempt}: ${r.stderr}`);
    }
  });

  async function uploadsLeft(): Promise<string[]> {
    const { readdir } = await import('node:fs/promises');
    return readdir(`${fx.server.storageDir}/uploads`).catch(() => []);
  }
});
