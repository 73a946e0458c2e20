/**
 * Read access control: under a private prefix, .aci and .aci.asc need a token with
 * the pull scope (Bearer, or Basic with the token as password, as rkt's auth.d
 * sends them), are marked private for caches, and listings hide versions and sizes
 * from everyone else. Discovery pages and keys stay public. acfetch (the rkt
 * stand-in) fetches with --auth-header and fails without it.
 */
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promisify } from 'node:util';
import { createFixture, type Fixture } from '../helpers/fixture.ts';

const run = promisify(execFile);
const ACFETCH = new URL('../../.cache/acfetch', import.meta.url).pathname;
const SECRET = 'localhost/secret/app';
const PUBLIC = 'localhost/open/app';

describe('private prefixes', () => {
  let f: Fixture;
  let puller: string;
  let pullerElsewhere: string;
  let pushOnly: string;

  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const basic = (t: string) => ({ authorization: `Basic ${Buffer.from(`anyone:${t}`).toString('base64')}` });
  const file = (name: string, version: string, ext = 'aci') => `/-/aci/${name}/${version}/linux/amd64.${ext}`;

  before(async () => {
    f = await createFixture({ prefix: 'localhost', config: { access: { privatePrefixes: ['localhost/secret'] } } });
    for (const name of [SECRET, PUBLIC]) {
      for (const version of ['1.0.0', '1.1.0']) assert.equal((await f.push({ name, version })).status, 201);
    }
    puller = await f.createToken(['--prefix', 'localhost/secret', '--scope', 'pull']);
    pullerElsewhere = await f.createToken(['--prefix', 'localhost/open', '--scope', 'pull']);
    pushOnly = await f.createToken(['--prefix', 'localhost/secret', '--scope', 'push']);
  });
  after(() => f?.close());

  it('refuses private files without a token (401 with WWW-Authenticate), marked private for caches', async () => {
    for (const path of [file(SECRET, '1.0.0'), file(SECRET, '1.0.0', 'aci.asc'), file(SECRET, 'latest'), file(SECRET, '9.9.9')]) {
      const res = await f.server.request(path);
      assert.equal(res.status, 401, path);
      assert.equal(JSON.parse(res.body.toString()).error.code, 'TOKEN_MISSING');
      assert.ok(res.headers['www-authenticate']);
      assert.match(String(res.headers['cache-control']), /^private/);
      assert.equal(res.headers.vary, 'Authorization');
    }
    const head = await f.server.request(file(SECRET, '1.0.0'), { method: 'HEAD' });
    assert.equal(head.status, 401);
  });

  it('refuses a wrong token (401), a token without pull (403) and one for another prefix (403)', async () => {
    const cases: [Record<string, string>, number, string][] = [
      [bearer('acih_00000000000000000000_' + 'x'.repeat(43)), 401, 'TOKEN_INVALID'],
      [bearer(pushOnly), 403, 'TOKEN_SCOPE_MISSING'],
      [bearer(pullerElsewhere), 403, 'PREFIX_NOT_ALLOWED'],
    ];
    for (const [headers, status, code] of cases) {
      const res = await f.server.request(file(SECRET, '1.0.0'), { headers });
      assert.equal(res.status, status, code);
      assert.equal(JSON.parse(res.body.toString()).error.code, code);
    }
  });

  it('serves private files to a pull token sent as Bearer or as the Basic password, with Cache-Control private and Vary', async () => {
    for (const headers of [bearer(puller), basic(puller)]) {
      const aci = await f.server.request(file(SECRET, '1.0.0'), { headers });
      assert.equal(aci.status, 200);
      assert.equal(aci.headers['cache-control'], 'private');
      assert.equal(aci.headers.vary, 'Authorization');
      const asc = await f.server.request(file(SECRET, '1.0.0', 'aci.asc'), { headers });
      assert.equal(asc.status, 200);
      assert.match(asc.body.toString(), /BEGIN PGP SIGNATURE/);
      const latest = await f.server.request(file(SECRET, 'latest'), { headers });
      assert.equal(latest.status, 200);
      assert.equal(latest.headers['cache-control'], 'private, no-cache');
    }
    const missing = await f.server.request(file(SECRET, '9.9.9'), { headers: bearer(puller) });
    assert.equal(missing.status, 404);
  });

  it('leaves public names public and cacheable, whatever credentials come along', async () => {
    const res = await f.server.request(file(PUBLIC, '1.0.0'));
    assert.equal(res.status, 200);
    assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(res.headers.vary, undefined);
    const stale = await f.server.request(file(PUBLIC, '1.0.0'), { headers: bearer('acih_00000000000000000000_' + 'x'.repeat(43)) });
    assert.equal(stale.status, 200);
  });

  it('keeps discovery pages and keys public, with the same meta tags for everyone', async () => {
    const anonymous = await f.server.request('/secret/app?ac-discovery=1');
    assert.equal(anonymous.status, 200);
    const withToken = await f.server.request('/secret/app?ac-discovery=1', { headers: bearer(puller) });
    const metas = (html: string) => html.match(/<meta name="ac-[^>]*>/g);
    assert.deepEqual(metas(withToken.body.toString()), metas(anonymous.body.toString()));
    assert.match(anonymous.body.toString(), /<meta name="ac-discovery" content="localhost\/secret\/app /);
    assert.equal(anonymous.headers['cache-control'], 'private, no-cache');
    assert.equal(anonymous.headers.vary, 'Authorization');
    const key = await f.server.request(`/-/keys/${f.key.fingerprint}.asc`);
    assert.equal(key.status, 200);
    const broken = await f.server.request('/secret/app', { headers: bearer('acih_00000000000000000000_' + 'x'.repeat(43)) });
    assert.equal(broken.status, 200, 'a stale auth.d token must not break discovery');
  });

  it('hides versions and sizes of a private name on the page unless a pull token is sent', async () => {
    const anonymous = (await f.server.request('/secret/app')).body.toString();
    assert.match(anonymous, /This image is private/);
    assert.doesNotMatch(anonymous, /1\.1\.0|1\.0\.0|bytes/);
    const root = (await f.server.request('/')).body.toString();
    assert.match(root, /localhost\/secret\/app<\/a> <span class="muted">private/);
    assert.match(root, /localhost\/open\/app<\/a> <span class="muted">latest 1\.1\.0/);
    const shown = await f.server.request('/secret/app', { headers: bearer(puller) });
    assert.match(shown.body.toString(), />1\.1\.0 <span class="badge">latest/);
    assert.equal(shown.headers['cache-control'], 'private, no-cache');
    const other = (await f.server.request('/secret/app', { headers: bearer(pullerElsewhere) })).body.toString();
    assert.doesNotMatch(other, /1\.1\.0/);
    assert.match(anonymous, /auth\.d/);
    const again = (await f.server.request('/secret/app')).body.toString();
    assert.doesNotMatch(again, /1\.1\.0/, 'a page rendered for a pull token is never served from cache to others');
  });

  it('hides them in the API too: latest is null in the list, the name itself needs pull', async () => {
    const list = JSON.parse((await f.server.request('/-/api/images')).body.toString());
    const secret = list.images.find((i: { name: string }) => i.name === SECRET);
    assert.deepEqual({ private: secret.private, latest: secret.latest }, { private: true, latest: null });
    assert.equal(list.images.find((i: { name: string }) => i.name === PUBLIC).latest[0].version, '1.1.0');
    const withPull = JSON.parse((await f.server.request('/-/api/images', { headers: bearer(puller) })).body.toString());
    assert.equal(withPull.images.find((i: { name: string }) => i.name === SECRET).latest[0].version, '1.1.0');

    const detail = await f.server.request(`/-/api/images/${SECRET}`);
    assert.equal(detail.status, 401);
    assert.equal((await f.server.request(`/-/api/images/${SECRET}`, { headers: bearer(pushOnly) })).status, 403);
    const allowed = await f.server.request(`/-/api/images/${SECRET}`, { headers: basic(puller) });
    assert.equal(allowed.status, 200);
    assert.equal(JSON.parse(allowed.body.toString()).versions.length, 2);
    assert.equal(allowed.headers.vary, 'Authorization');
  });

  it('is fetched by acfetch with --auth-header, as rkt does with auth.d, and refused without', async () => {
    const base = ['--cafile', f.server.caFile, '--port', String(f.server.port)];
    const { stdout } = await run(ACFETCH, [...base, '--auth-header', `Bearer ${puller}`, `${SECRET}:1.1.0`]);
    assert.match(stdout.trim(), /^sha512-[0-9a-f]{128}$/);
    const basicRun = await run(ACFETCH, [...base, '--auth-header', basic(puller).authorization, SECRET]);
    assert.equal(basicRun.stdout.trim(), stdout.trim(), 'the bare name resolves to latest, 1.1.0');
    await assert.rejects(run(ACFETCH, [...base, `${SECRET}:1.1.0`]), /401|Unauthorized|status/i);
    const open = await run(ACFETCH, [...base, `${PUBLIC}:1.0.0`]);
    assert.match(open.stdout.trim(), /^sha512-/);
  });
});
