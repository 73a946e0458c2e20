/**
 * pubkeys.gpg where the classic static setup served it: at the root (every trusted key) and
 * under a prefix (the keys covering it), read by gpg --import and by acfetch, the rkt stand-in.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { hasValidArmorChecksum } from '../../src/signing/signature.ts';
import { createFixture, type Fixture } from '../helpers/fixture.ts';
import { createGpg, type GpgKey } from '../helpers/gpg.ts';
import { acfetch, eventually, pushSignedBy } from '../helpers/trust.ts';

describe('pubkeys.gpg at the root and under a prefix', () => {
  let f: Fixture;
  let team: GpgKey; // the fixture's key, trusted for localhost/team
  let root: GpgKey; // trusted for localhost (every name)
  let other: GpgKey; // trusted for localhost/other only
  const imageIds: Record<string, string> = {};

  before(async () => {
    f = await createFixture({ prefix: 'localhost/team' });
    team = f.key;
    root = await f.gpg.genKey({ algo: 'rsa3072', uid: 'root <root@localhost>' });
    other = await f.gpg.genKey({ algo: 'rsa3072', uid: 'other <other@localhost>' });
  });
  after(async () => f?.close());

  /** Imports `body` into a fresh gpg home and returns the fingerprints gpg sees there. */
  async function gpgImport(body: Buffer): Promise<string[]> {
    const fresh = await createGpg();
    try {
      const file = await fresh.writeFile('pubkeys.gpg', body);
      await fresh.gpg(['--import', file]);
      const listing = await fresh.gpg(['--with-colons', '--list-keys']);
      return [...listing.matchAll(/^pub:(?:.*\n)fpr:+([0-9A-F]{40}):/gm)].map((m) => m[1]!.toLowerCase()).sort();
    } finally {
      await fresh.cleanup();
    }
  }

  it('answers 404 with a hint while no key covers the prefix', async () => {
    const res = await f.server.request('/elsewhere/pubkeys.gpg');
    assert.equal(res.status, 404);
    const body = JSON.parse(res.body.toString());
    assert.equal(body.error.code, 'KEYS_FILE_EMPTY');
    assert.match(body.error.message, /acihost key add --prefix localhost\/elsewhere/);
  });

  it('serves every trusted key at /pubkeys.gpg, armored with CRC24, imported by gpg --import', async () => {
    await f.trust(root, 'localhost');
    await f.trust(other, 'localhost/other');
    await eventually(
      async () => f.server.running.registry.keys.all().length,
      (n) => n === 3,
    );
    const res = await f.server.request('/pubkeys.gpg');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/pgp-keys');
    assert.match(String(res.headers['cache-control']), /^public/);
    assert.match(String(res.headers.etag), /^"[0-9a-f]{64}"$/);
    assert.equal(res.headers['content-encoding'], undefined);
    assert.ok(hasValidArmorChecksum(res.body.toString()), 'one armor block with a valid CRC24 line');
    assert.deepEqual(await gpgImport(res.body), [team.fingerprint, root.fingerprint, other.fingerprint].sort());
  });

  it('serves at /PREFIX/pubkeys.gpg only the keys whose prefixes cover it', async () => {
    for (const path of ['/team/pubkeys.gpg', '/team/app/pubkeys.gpg']) {
      const res = await f.server.request(path);
      assert.equal(res.status, 200, path);
      assert.deepEqual(await gpgImport(res.body), [team.fingerprint, root.fingerprint].sort(), path);
    }
    const elsewhere = await f.server.request('/elsewhere/pubkeys.gpg');
    assert.deepEqual(await gpgImport(elsewhere.body), [root.fingerprint]);
  });

  it('answers If-None-Match with 304 and HEAD without a body', async () => {
    const first = await f.server.request('/team/pubkeys.gpg');
    const again = await f.server.request('/team/pubkeys.gpg', { headers: { 'if-none-match': String(first.headers.etag) } });
    assert.equal(again.status, 304);
    const head = await f.server.request('/team/pubkeys.gpg', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(Number(head.headers['content-length']), first.body.length);
  });

  it('leaves every other path to discovery', async () => {
    const page = await f.server.request('/team?ac-discovery=1');
    assert.equal(page.status, 200);
    assert.match(
      page.body.toString(),
      new RegExp(`ac-discovery-pubkeys" content="localhost/team ${f.server.origin}/-/keys/${team.fingerprint}.asc`),
    );
    const near = await f.server.request('/team/pubkeys.gpgx?ac-discovery=1');
    assert.match(String(near.headers['content-type']), /^text\/html/);
  });

  it('lets acfetch verify with a downloaded pubkeys.gpg as --keyring, trusting its first key as rkt does', async () => {
    const byTeam = await pushSignedBy(f, team, { name: 'localhost/team/app', version: '1.0.0' });
    assert.equal(byTeam.status, 201, byTeam.raw);
    const byRoot = await pushSignedBy(f, root, { name: 'localhost/team/tool', version: '1.0.0' });
    assert.equal(byRoot.status, 201, byRoot.raw);
    imageIds.app = 'sha512-' + createHash('sha512').update(gunzipSync(byTeam.aci)).digest('hex');
    imageIds.tool = 'sha512-' + createHash('sha512').update(gunzipSync(byRoot.aci)).digest('hex');

    const file = join(f.server.dir, 'team-pubkeys.gpg');
    await writeFile(file, (await f.server.request('/team/pubkeys.gpg')).body);
    // The newest active key comes first: team's key was added before root's.
    const tool = await acfetch(f.server, ['--keyring', file, 'localhost/team/tool:1.0.0']);
    assert.equal(tool.code, 0, tool.stderr);
    assert.equal(tool.stdout.trim(), imageIds.tool);
    const firstOnly = await acfetch(f.server, ['--keyring', file, 'localhost/team/app:1.0.0']);
    assert.notEqual(firstOnly.code, 0, 'rkt and acfetch trust only the first key of a file');
    const all = await acfetch(f.server, ['--keyring', file, '--all-keys', 'localhost/team/app:1.0.0']);
    assert.equal(all.code, 0, all.stderr);
    assert.equal(all.stdout.trim(), imageIds.app);
  });

  it('lets acfetch discover one key per URL and verify every image', async () => {
    for (const [name, id] of [
      ['localhost/team/app:1.0.0', imageIds.app],
      ['localhost/team/tool:1.0.0', imageIds.tool],
    ] as const) {
      const res = await acfetch(f.server, [name]);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.stdout.trim(), id);
    }
  });

  it('verifies a served signature with gpg after gpg --import of the root file', async () => {
    const fresh = await createGpg();
    try {
      const keys = await fresh.writeFile('pubkeys.gpg', (await f.server.request('/pubkeys.gpg')).body);
      await fresh.gpg(['--import', keys]);
      const aci = await fresh.writeFile('app.aci', (await f.server.request('/-/aci/localhost/team/app/1.0.0/linux/amd64.aci')).body);
      const asc = await fresh.writeFile(
        'app.aci.asc',
        (await f.server.request('/-/aci/localhost/team/app/1.0.0/linux/amd64.aci.asc')).body,
      );
      const status = await fresh.gpg(['--status-fd', '1', '--verify', asc, aci]);
      assert.match(status, new RegExp(`VALIDSIG ${team.fingerprint.toUpperCase()}`));
    } finally {
      await fresh.cleanup();
    }
  });
});
