/**
 * Key rotation with real gpg keys: two keys on one prefix, retiring the old one (its new
 * pushes refused, its old images still fetched and verified by acfetch), key states and
 * expiry in `key list`, and removal that asks for --force while images depend on a key.
 */
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { createFixture, type Fixture } from '../helpers/fixture.ts';
import type { GpgKey } from '../helpers/gpg.ts';
import { storageSnapshot } from '../helpers/storage-snapshot.ts';
import { acfetch, eventually, pushSigned, pushSignedBy, signImage } from '../helpers/trust.ts';

const imageId = (aci: Buffer) => 'sha512-' + createHash('sha512').update(gunzipSync(aci)).digest('hex');
// As gpg --fingerprint prints it: upper case, in groups.
const spaced = (fp: string) =>
  fp
    .toUpperCase()
    .replace(/(.{4})/g, '$1 ')
    .trim();

interface ListedKey {
  fingerprint: string;
  state: string;
  expires: string | null;
  retiredAt: string | null;
}

describe('key rotation: two keys, retire, remove', () => {
  let f: Fixture;
  let old: GpgKey;
  let next: GpgKey;
  const ids: Record<string, string> = {};

  before(async () => {
    f = await createFixture({ prefix: 'localhost/team' });
    old = f.key;
    next = await f.gpg.genKey({ algo: 'rsa3072', uid: 'next <next@localhost>' });
  });
  after(async () => f?.close());

  /** Waits for the running server to see a CLI change (within 2 s: docs/command-line.md#commands-and-exit-codes). */
  const serverSeesRetired = async (key: GpgKey, retired: boolean) => {
    const seen = await eventually(
      async () => f.server.running.registry.keys.all().find((k) => k.fingerprint === key.fingerprint),
      (k) => Boolean(k?.retiredAt) === retired,
    );
    assert.equal(Boolean(seen?.retiredAt), retired, 'the server sees the change within 2 s');
  };
  const listKeys = async (): Promise<ListedKey[]> => JSON.parse((await f.server.cli(['key', 'list', '--json'])).stdout);
  const app = (version: string) => ({ name: 'localhost/team/app', version });

  it('accepts pushes signed by either of two keys trusted for one prefix', async () => {
    await f.trust(next, 'localhost/team');
    const byOld = await pushSignedBy(f, old, app('1.0.0'));
    assert.equal(byOld.status, 201, byOld.raw);
    assert.equal(byOld.json.signer, old.fingerprint);
    const byNext = await eventually(
      () => pushSignedBy(f, next, app('1.1.0')),
      (r) => r.status === 201,
    );
    assert.equal(byNext.status, 201, byNext.raw);
    assert.equal(byNext.json.signer, next.fingerprint);
    ids.old = imageId(byOld.aci);
    ids.next = imageId(byNext.aci);
    const page = (await f.server.request('/team/app?ac-discovery=1')).body.toString();
    for (const k of [old, next])
      assert.match(page, new RegExp(`ac-discovery-pubkeys" content="localhost/team [^"]*/-/keys/${k.fingerprint}.asc"`));
  });

  it('lists both keys as active, with their expiry', async () => {
    const text = await f.server.cli(['key', 'list']);
    assert.equal(text.code, 0, text.stderr);
    for (const k of [old, next]) assert.match(text.stdout, new RegExp(`^${k.fingerprint}  active .* expires never`, 'm'));
    const keys = await listKeys();
    assert.deepEqual(keys.map((k) => k.state).sort(), ['active', 'active']);
  });

  it('retires a key given as gpg prints its fingerprint, and refuses new pushes it signs, naming it', async () => {
    const r = await f.server.cli(['key', 'retire', ...spaced(old.fingerprint).split(' ')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`retired ${old.fingerprint}`));
    const listed = (await listKeys()).find((k) => k.fingerprint === old.fingerprint)!;
    assert.equal(listed.state, 'retired');
    assert.ok(listed.retiredAt);

    await serverSeesRetired(old, true);
    const before = await storageSnapshot(f.server.storageDir);
    const refused = await pushSignedBy(f, old, app('2.0.0'));
    assert.equal(refused.status, 422, refused.raw);
    assert.equal(refused.json.error.code, 'SIGNATURE_KEY_RETIRED');
    assert.match(refused.json.error.message, new RegExp(`key ${old.fingerprint}, which was retired`));
    assert.match(refused.json.error.message, /sign localhost\/team\/app with an active key/);
    assert.deepEqual(await storageSnapshot(f.server.storageDir), before, 'a refused push stores nothing');

    const byNext = await pushSignedBy(f, next, app('2.0.0'));
    assert.equal(byNext.status, 201, byNext.raw);
  });

  it('keeps the retired key in discovery and pubkeys.gpg, so acfetch still verifies its old images', async () => {
    const page = (await f.server.request('/team/app?ac-discovery=1')).body.toString();
    assert.match(page, new RegExp(`/-/keys/${old.fingerprint}.asc`));
    assert.equal((await f.server.request(`/-/keys/${old.fingerprint}.asc`)).status, 200);
    const keysFile = await f.server.request('/team/pubkeys.gpg');
    assert.equal(keysFile.status, 200);
    for (const [name, id] of [
      ['localhost/team/app:1.0.0', ids.old],
      ['localhost/team/app:1.1.0', ids.next],
    ] as const) {
      const res = await acfetch(f.server, [name]);
      assert.equal(res.code, 0, `${name}: ${res.stderr}`);
      assert.equal(res.stdout.trim(), id);
    }
  });

  it('activates a retired key again on request', async () => {
    const r = await f.server.cli(['key', 'activate', old.fingerprint]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /is active/);
    await serverSeesRetired(old, false);
    const pushed = await pushSignedBy(f, old, app('2.1.0'));
    assert.equal(pushed.status, 201, pushed.raw);
    assert.equal((await f.server.cli(['key', 'retire', old.fingerprint])).code, 0);
  });

  it('shows an expired key as expired, and refuses its pushes', async () => {
    const short = await f.gpg.genKey({ algo: 'nistp256', expire: 'seconds=6', uid: 'short <short@localhost>' });
    // gpg signs nothing with an expired key: sign now, push once it has expired.
    const signed = await signImage(f, short, app('3.0.0'));
    await f.trust(short, 'localhost/team');
    assert.equal((await listKeys()).find((k) => k.fingerprint === short.fingerprint)?.state, 'active');
    const expired = await eventually(
      async () => (await listKeys()).find((k) => k.fingerprint === short.fingerprint)!,
      (k) => k.state === 'expired',
      10_000,
    );
    assert.equal(expired.state, 'expired');
    assert.ok(expired.expires && Date.parse(expired.expires) <= Date.now());
    const text = (await f.server.cli(['key', 'list'])).stdout;
    assert.match(text, new RegExp(`^${short.fingerprint}  expired .* expires ${expired.expires}`, 'm'));
    const refused = await pushSigned(f, signed);
    assert.equal(refused.status, 422, refused.raw);
    assert.equal(refused.json.error.code, 'SIGNATURE_KEY_EXPIRED');
  });

  it('asks for --force to remove a key that still verifies published images, saying how many', async () => {
    const refused = await f.server.cli(['key', 'remove', old.fingerprint]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /verifies 2 published images/);
    assert.match(refused.stderr, /--force/);
    assert.match(refused.stderr, /KEY_IN_USE/);
    assert.ok(
      (await listKeys()).some((k) => k.fingerprint === old.fingerprint),
      'still trusted',
    );

    const forced = await f.server.cli(['key', 'remove', '--force', old.fingerprint]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stderr, /2 published image\(s\) signed by it can no longer be verified/);
    assert.ok(!(await listKeys()).some((k) => k.fingerprint === old.fingerprint));
    const res = await eventually(
      () => acfetch(f.server, ['localhost/team/app:1.0.0']),
      (r) => r.code !== 0,
    );
    assert.notEqual(res.code, 0, 'with the key gone, clients cannot verify its images');
  });

  it('removes a key that signed nothing without --force', async () => {
    const unused = await f.gpg.genKey({ algo: 'rsa3072' });
    await f.trust(unused, 'localhost/elsewhere');
    const r = await f.server.cli(['key', 'remove', unused.fingerprint.toUpperCase()]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
  });
});
