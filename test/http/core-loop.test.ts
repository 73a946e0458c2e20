/**
 * The core loop end to end over real HTTPS: trust a gpg key with the CLI, make a
 * token, push with curl, then discover, download and verify with the real
 * clients (actool and acfetch, the rkt stand-in).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { buildAci } from '../helpers/aci-builder.ts';
import { createGpg, type Gpg, type GpgKey } from '../helpers/gpg.ts';
import { curlPush } from '../helpers/push.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const run = promisify(execFile);
const ACFETCH = new URL('../../.cache/acfetch', import.meta.url).pathname;

describe('core loop: sign, push, discover and fetch over TLS', () => {
  let server: TestServer;
  let gpg: Gpg;
  let key: GpgKey;
  let token: string;
  let aciPath: string;
  let ascPath: string;
  let aciBytes: Buffer;

  before(async () => {
    [server, gpg] = await Promise.all([startTestServer(), createGpg()]);
    key = await gpg.genKey({ algo: 'rsa3072', uid: 'ci <ci@localhost>' });
    const keyFile = join(server.dir, 'ci.asc');
    await writeFile(keyFile, await gpg.exportPublic(key.fingerprint));
    const added = await server.cli(['key', 'add', '--prefix', 'localhost/team', keyFile]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, new RegExp(key.fingerprint));
    const created = await server.cli(['token', 'create', '--prefix', 'localhost/team']);
    assert.equal(created.code, 0, created.stderr);
    token = created.stdout.split('\n')[0]!;
    aciBytes = await buildAci({ name: 'localhost/team/app', version: '1.0.0' });
    aciPath = join(server.dir, 'app-1.0.0-linux-amd64.aci');
    await writeFile(aciPath, aciBytes);
    ascPath = await gpg.signFile(aciPath, key.fingerprint, { armor: true });
  });

  after(async () => {
    await server?.close();
    await gpg?.cleanup();
  });

  it('prints the token alone on the first line, with a recognisable prefix', () => {
    assert.match(token, /^acih_[0-9a-f]{20}_[A-Za-z0-9_-]{43}$/);
  });

  it('answers a first-time discovery with the prefix key before anything is pushed', async () => {
    // The CLI is another process: the server may take up to 2 s to see the key (docs/command-line.md#commands-and-exit-codes).
    let res = await server.request('/team?ac-discovery=1');
    for (const start = Date.now(); res.status === 404 && Date.now() - start < 2000;) {
      await new Promise((r) => setTimeout(r, 50));
      res = await server.request('/team?ac-discovery=1');
    }
    assert.equal(res.status, 200);
    const body = res.body.toString();
    assert.match(
      body,
      new RegExp(`<meta name="ac-discovery-pubkeys" content="localhost/team ${server.origin}/-/keys/${key.fingerprint}.asc">`),
    );
    assert.doesNotMatch(body, /name="ac-discovery" /);
  });

  it('publishes a signed ACI pushed with curl and answers 201 with its coordinates', async () => {
    const res = await curlPush({ origin: server.origin, caFile: server.caFile, token, aci: aciPath, asc: ascPath });
    assert.equal(res.status, 201, res.raw);
    const imageId = 'sha512-' + createHash('sha512').update(gunzipSync(aciBytes)).digest('hex');
    assert.deepEqual(res.json, {
      name: 'localhost/team/app',
      version: '1.0.0',
      os: 'linux',
      arch: 'amd64',
      imageId,
      size: aciBytes.length,
      signer: key.fingerprint,
      aciUrl: `${server.origin}/-/aci/localhost/team/app/1.0.0/linux/amd64.aci`,
      ascUrl: `${server.origin}/-/aci/localhost/team/app/1.0.0/linux/amd64.aci.asc`,
    });
  });

  it('renders discovery tags at the name and at every parent path', async () => {
    for (const path of ['/team/app', '/team', '/']) {
      const res = await server.request(`${path}?ac-discovery=1`);
      assert.equal(res.status, 200, path);
      const body = res.body.toString();
      const discovery = body.indexOf(
        `<meta name="ac-discovery" content="localhost/team/app ${server.origin}/-/aci/{name}/{version}/{os}/{arch}.{ext}">`,
      );
      const pubkeys = body.indexOf(
        `<meta name="ac-discovery-pubkeys" content="localhost/team ${server.origin}/-/keys/${key.fingerprint}.asc">`,
      );
      assert.ok(discovery >= 0 && pubkeys > discovery, `${path}: ${body}`);
    }
  });

  it('is found by actool discover', async () => {
    const { stdout } = await run(
      'actool',
      ['discover', '--port', String(server.port), 'localhost/team/app,version=1.0.0,os=linux,arch=amd64'],
      {
        env: { ...process.env, SSL_CERT_FILE: server.caFile },
      },
    );
    assert.match(stdout, new RegExp(`${server.origin}/-/aci/localhost/team/app/1.0.0/linux/amd64.aci`));
    assert.match(stdout, new RegExp(`${server.origin}/-/aci/localhost/team/app/1.0.0/linux/amd64.aci.asc`));
  });

  it('is discovered, downloaded and verified by acfetch exactly as rkt fetch does', async () => {
    const imageId = 'sha512-' + createHash('sha512').update(gunzipSync(aciBytes)).digest('hex');
    for (const name of ['localhost/team/app:1.0.0', 'localhost/team/app']) {
      const { stdout } = await run(ACFETCH, ['--cafile', server.caFile, '--port', String(server.port), name]);
      assert.equal(stdout.trim(), imageId, name);
    }
  });

  it('serves an .aci that actool validate accepts, byte for byte as pushed', async () => {
    const res = await server.request('/-/aci/localhost/team/app/1.0.0/linux/amd64.aci');
    assert.equal(res.status, 200);
    assert.ok(res.body.equals(aciBytes));
    const out = join(server.dir, 'served.aci');
    await writeFile(out, res.body);
    await run('actool', ['validate', out]);
  });

  it('answers an identical retry with 200 and a different image of the same version with 409', async () => {
    const retry = await curlPush({ origin: server.origin, caFile: server.caFile, token, aci: aciPath, asc: ascPath, ascFirst: false });
    assert.equal(retry.status, 200, retry.raw);
    assert.equal(retry.json.signer, key.fingerprint);

    const other = join(server.dir, 'other.aci');
    await writeFile(
      other,
      await buildAci({ name: 'localhost/team/app', version: '1.0.0', entries: [{ name: 'rootfs/extra', body: 'x' }] }),
    );
    const otherAsc = await gpg.signFile(other, key.fingerprint, { armor: true });
    const conflict = await curlPush({ origin: server.origin, caFile: server.caFile, token, aci: other, asc: otherAsc });
    assert.equal(conflict.status, 409, conflict.raw);
    assert.equal(conflict.json.error.code, 'VERSION_EXISTS');
    const served = await server.request('/-/aci/localhost/team/app/1.0.0/linux/amd64.aci');
    assert.ok(served.body.equals(aciBytes), 'the first image is still served');
  });

  it('resolves latest to the highest semver version, served with no-cache', async () => {
    for (const version of ['1.10.0', '1.9.0', '1.10.0-rc.1']) {
      const file = join(server.dir, `app-${version}.aci`);
      await writeFile(file, await buildAci({ name: 'localhost/team/app', version }));
      const asc = await gpg.signFile(file, key.fingerprint, { armor: true });
      const res = await curlPush({ origin: server.origin, caFile: server.caFile, token, aci: file, asc });
      assert.equal(res.status, 201, res.raw);
    }
    const latest = await server.request('/-/aci/localhost/team/app/latest/linux/amd64.aci');
    assert.equal(latest.status, 200);
    assert.equal(latest.headers['cache-control'], 'no-cache');
    const v110 = await server.request('/-/aci/localhost/team/app/1.10.0/linux/amd64.aci');
    assert.ok(latest.body.equals(v110.body), 'latest is 1.10.0: above 1.9.0 pushed after it, and above its own prerelease');
  });

  it('answers 404 where nothing is stored or trusted, so clients walk up, and always 200 at /', async () => {
    const miss = await server.request('/elsewhere/app?ac-discovery=1');
    assert.equal(miss.status, 404);
    assert.match(String(miss.headers['content-type']), /^text\/html/);
    assert.equal((await server.request('/Not_An-Identifier?ac-discovery=1')).status, 404);
    const root = await server.request('/');
    assert.equal(root.status, 200);
    assert.match(root.body.toString(), /^<!doctype html>/);
  });

  it('speaks TLS 1.2 with ECDHE and AES-GCM, as rkt 1.30 does, and TLS 1.3', async () => {
    const old = await server.request('/?ac-discovery=1', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
    assert.equal(old.status, 200);
    assert.deepEqual(old.tls, { protocol: 'TLSv1.2', cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
    const modern = await server.request('/?ac-discovery=1');
    assert.equal(modern.tls.protocol, 'TLSv1.3');
  });
});
