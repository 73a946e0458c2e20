/**
 * The rules every route keeps, by class, checked in this process with
 * app.inject() (no listener, no gpg): which methods each route answers, who may
 * call it, which coordinates reach it, the shape of its errors, its cache
 * headers, HEAD, and byte ranges. docs/http-api.md is the contract.
 */
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { Scope } from '../../src/registry/access/tokens.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { buildTestApp, type TestApp } from '../helpers/app.ts';

type Response = LightMyRequestResponse;
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;
type Method = (typeof METHODS)[number];

const ACI = '/-/aci/localhost/app/1.0.0/linux/amd64.aci';
const LATEST = '/-/aci/localhost/app/latest/linux/amd64.aci';
const SECRET = '/-/aci/localhost/secret/app/1.0.0/linux/amd64.aci';
const SECRET_LATEST = '/-/aci/localhost/secret/app/latest/linux/amd64.aci';
const BAD_TOKEN = `acih_${'0'.repeat(20)}_${'x'.repeat(43)}`;
const IMMUTABLE = 'public, max-age=31536000, immutable';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const basic = (token: string) => ({ authorization: `Basic ${Buffer.from(`ci:${token}`).toString('base64')}` });

function send(t: TestApp, method: Method, url: string, headers: Record<string, string> = {}, payload?: InjectOptions['payload']) {
  return t.app.inject({ method, url, headers, payload });
}

/** Asserts the one error shape of every route: {"error":{"code","message"}} as JSON, and nothing else. */
function assertError(res: Response, status: number, code: string): void {
  assert.equal(res.statusCode, status, res.body);
  assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
  const body = res.json();
  assert.deepEqual(Object.keys(body), ['error'], res.body);
  assert.deepEqual(Object.keys(body.error), ['code', 'message'], res.body);
  assert.equal(body.error.code, code, res.body);
  assert.equal(typeof body.error.message, 'string');
  assert.ok(body.error.message.length > 0);
  assert.doesNotMatch(body.error.message, /\n\s+at /, 'no stack trace');
}

/** The refusal a request no route takes gets: JSON under /-/api/, the page for people on GET, else NOT_FOUND. */
function assertUnrouted(res: Response, method: Method, url: string): void {
  if (url.startsWith('/-/api/')) return method === 'HEAD' ? assertHeadOf(res, 404) : assertError(res, 404, 'API_NOT_FOUND');
  if (method === 'GET' || method === 'HEAD') {
    assert.equal(res.statusCode, 404, `${method} ${url}`);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8', `${method} ${url}`);
    return;
  }
  assertError(res, 404, 'NOT_FOUND');
}

function assertHeadOf(res: Response, status: number): void {
  assert.equal(res.statusCode, status);
  assert.equal(res.rawPayload.length, 0, 'HEAD has no body');
}

/**
 * The refusals of a route that needs a token with `scope` for a covering prefix, in the
 * order it checks: none (with WWW-Authenticate), a bad one, one with only `others`, one for `outside`.
 */
async function assertGuarded(t: TestApp, method: Method, url: string, g: { scope: Scope; others: Scope[]; outside: string }) {
  const missing = await send(t, method, url);
  assertError(missing, 401, 'TOKEN_MISSING');
  assert.equal(missing.headers['www-authenticate'], 'Bearer realm="acihost", Basic realm="acihost"');
  assertError(await send(t, method, url, bearer(BAD_TOKEN)), 401, 'TOKEN_INVALID');
  assertError(await send(t, method, url, bearer(await t.token(g.others))), 403, 'TOKEN_SCOPE_MISSING');
  assertError(await send(t, method, url, bearer(await t.token([g.scope], [g.outside]))), 403, 'PREFIX_NOT_ALLOWED');
}

/** Records what storage is asked about images (images/, blobs/), to prove a refused address reaches none of it. */
function watchImages(storage: Storage): { touched: string[]; stop(): void } {
  const touched: string[] = [];
  const ops = ['read', 'get', 'stat', 'list'] as const;
  const originals = ops.map((op) => storage[op]);
  for (const op of ops) {
    const original = storage[op] as (key: string, ...rest: unknown[]) => unknown;
    (storage as unknown as Record<string, unknown>)[op] = (key: string, ...rest: unknown[]) => {
      if (key.startsWith('images/') || key.startsWith('blobs/')) touched.push(`${op} ${key}`);
      return original.call(storage, key, ...rest);
    };
  }
  return {
    touched,
    stop: () => ops.forEach((op, i) => ((storage as unknown as Record<string, unknown>)[op] = originals[i])),
  };
}

describe('route rules, in process', () => {
  /** No private prefixes and metrics open: the default configuration. One key, trusted for localhost/app. */
  let open: TestApp;
  /** localhost/secret private and metrics behind a token. */
  let locked: TestApp;
  let aci: Buffer;
  /** As served: armored anew with its CRC24 line, so not the bytes pushed. */
  let signature: Buffer;

  before(async () => {
    [open, locked] = await Promise.all([
      buildTestApp({ trust: ['localhost/app'] }),
      buildTestApp({
        trust: ['localhost/app', 'localhost/secret'],
        config: { access: { privatePrefixes: ['localhost/secret'] }, metrics: { requireToken: true } },
      }),
    ]);
    // Incompressible, so the .aci is large enough for ranges at either end and between.
    const build = { name: 'localhost/app', version: '1.0.0', entries: [{ name: 'rootfs/noise', body: randomBytes(20_000) }] };
    const published = await open.publish(build);
    assert.equal(published.status, 201, JSON.stringify(published.body));
    aci = published.aci;
    signature = (await send(open, 'GET', `${ACI}.asc`)).rawPayload;
    for (const name of ['localhost/app', 'localhost/secret/app']) {
      const p = await locked.publish({ name, version: '1.0.0' });
      assert.equal(p.status, 201, JSON.stringify(p.body));
    }
  });
  after(async () => {
    await open?.close();
    await locked?.close();
  });

  describe('methods: each route answers its methods; any other falls through to the 404 of the path', () => {
    const routes: { route: string; url: (t: TestApp) => string; answers: Partial<Record<Method, [number, string?]>> }[] = [
      { route: 'GET /', url: () => '/', answers: { GET: [200], HEAD: [200] } },
      { route: 'GET /* (discovery)', url: () => '/app', answers: { GET: [200], HEAD: [200] } },
      { route: 'GET /-/health/live', url: () => '/-/health/live', answers: { GET: [200], HEAD: [200] } },
      { route: 'GET /-/health/ready', url: () => '/-/health/ready', answers: { GET: [200], HEAD: [200] } },
      { route: 'GET /-/metrics', url: () => '/-/metrics', answers: { GET: [200], HEAD: [200] } },
      { route: 'GET /-/aci/*', url: () => ACI, answers: { GET: [200], HEAD: [200] } },
      { route: 'GET /-/keys/:fingerprint', url: (t) => `/-/keys/${t.fingerprint}.asc`, answers: { GET: [200], HEAD: [200] } },
      { route: 'GET /pubkeys.gpg', url: () => '/pubkeys.gpg', answers: { GET: [200], HEAD: [200] } },
      { route: 'GET /PREFIX/pubkeys.gpg', url: () => '/app/pubkeys.gpg', answers: { GET: [200], HEAD: [200] } },
      { route: 'POST /-/push', url: () => '/-/push', answers: { POST: [401, 'TOKEN_MISSING'] } },
      {
        route: 'POST /-/acpush/start/*',
        url: () => '/-/acpush/start/localhost/app/2.0.0/linux/amd64.aci',
        answers: { POST: [401, 'TOKEN_MISSING'] },
      },
      { route: 'PUT /-/acpush/uploads/:id/:part', url: () => '/-/acpush/uploads/x/manifest', answers: { PUT: [401, 'TOKEN_MISSING'] } },
      // A PUT there is a part named "complete", which no upload has.
      {
        route: 'POST /-/acpush/uploads/:id/complete',
        url: () => '/-/acpush/uploads/x/complete',
        answers: { POST: [200], PUT: [404, 'ACPUSH_PART_UNKNOWN'] },
      },
      { route: 'GET /-/api/images', url: () => '/-/api/images', answers: { GET: [200], HEAD: [200] } },
      {
        route: 'GET, DELETE /-/api/images/*',
        url: () => '/-/api/images/localhost/app',
        answers: { GET: [200], HEAD: [200], DELETE: [401, 'TOKEN_MISSING'] },
      },
      { route: 'GET /-/api/keys', url: () => '/-/api/keys', answers: { GET: [200], HEAD: [200] } },
      { route: 'GET /-/api/openapi.json', url: () => '/-/api/openapi.json', answers: { GET: [200], HEAD: [200] } },
      {
        route: 'GET, POST /-/api/tokens',
        url: () => '/-/api/tokens',
        answers: { GET: [401, 'TOKEN_MISSING'], HEAD: [401], POST: [401, 'TOKEN_MISSING'] },
      },
      { route: 'DELETE /-/api/tokens/:id', url: () => `/-/api/tokens/${'0'.repeat(20)}`, answers: { DELETE: [401, 'TOKEN_MISSING'] } },
      { route: 'no route: an unknown /-/api/ path', url: () => '/-/api/nothing', answers: {} },
      { route: 'no route: an unknown /-/ path', url: () => '/-/nothing', answers: {} },
    ];
    for (const { route, url, answers } of routes) {
      it(`${route}: ${Object.keys(answers).join(', ') || 'nothing'} answered, every other method 404`, async () => {
        for (const method of METHODS) {
          const res = await send(open, method, url(open));
          const answer = answers[method];
          if (!answer) assertUnrouted(res, method, url(open));
          else if (answer[1]) assertError(res, answer[0], answer[1]);
          else assert.equal(res.statusCode, answer[0], `${method} ${url(open)}: ${res.body.slice(0, 200)}`);
        }
      });
    }
  });

  describe('auth: no token, a bad token or a wrong scope get the documented refusal', () => {
    it('POST /-/push: 401 without a token or with a malformed, unknown, revoked or expired one, with WWW-Authenticate', async () => {
      const revoked = await open.registry.tokens.create({ prefixes: ['localhost'], scopes: ['push'], name: 'r', expiresInSeconds: null });
      await open.registry.tokens.revoke(revoked.record.id);
      await open.registry.tokens.mirror.refresh();
      const expired = await open.registry.tokens.create(
        { prefixes: ['localhost'], scopes: ['push'], name: 'e', expiresInSeconds: 60 },
        new Date(Date.now() - 3_600_000),
      );
      const cases: [Record<string, string>, string][] = [
        [{}, 'TOKEN_MISSING'],
        [bearer('not-a-token'), 'TOKEN_INVALID'],
        [bearer(BAD_TOKEN), 'TOKEN_INVALID'],
        [basic(BAD_TOKEN), 'TOKEN_INVALID'],
        [bearer(revoked.token), 'TOKEN_INVALID'],
        [bearer(expired.token), 'TOKEN_EXPIRED'],
      ];
      for (const [headers, code] of cases) {
        const res = await send(open, 'POST', '/-/push', headers);
        assertError(res, 401, code);
        assert.equal(res.headers['www-authenticate'], 'Bearer realm="acihost", Basic realm="acihost"');
      }
    });

    it('POST /-/push: 403 for a token without the push scope or outside its prefixes; a push token passes to the body', async () => {
      assertError(await send(open, 'POST', '/-/push', bearer(await open.token(['pull', 'delete']))), 403, 'TOKEN_SCOPE_MISSING');
      const elsewhere = await open.publish({ name: 'localhost/app', version: '3.0.0' }, await open.token(['push'], ['localhost/other']));
      assert.equal(elsewhere.status, 403);
      assert.equal(elsewhere.body.error.code, 'PREFIX_NOT_ALLOWED');
      for (const auth of [bearer, basic]) {
        assertError(await send(open, 'POST', '/-/push', auth(await open.token(['push']))), 400, 'PUSH_NOT_MULTIPART');
      }
    });

    it('POST /-/acpush/start/*: 401 without or with a bad token, 403 without push or outside the prefixes', async () => {
      const url = '/-/acpush/start/localhost/app/2.0.0/linux/amd64.aci';
      await assertGuarded(open, 'POST', url, { scope: 'push', others: ['pull'], outside: 'localhost/other' });
      assert.equal((await send(open, 'POST', url, basic(await open.token(['push'])))).statusCode, 200);
    });

    it("PUT /-/acpush/uploads/:id/:part: 401 and 403 as on start, and another token's upload is refused", async () => {
      const owner = await open.token(['push']);
      const start = await send(open, 'POST', '/-/acpush/start/localhost/app/2.1.0/linux/amd64.aci', bearer(owner));
      const part = new URL(start.json().upload_manifest_url).pathname;
      assertError(await send(open, 'PUT', part, {}, '{}'), 401, 'TOKEN_MISSING');
      assertError(await send(open, 'PUT', part, bearer(BAD_TOKEN), '{}'), 401, 'TOKEN_INVALID');
      assertError(await send(open, 'PUT', part, bearer(await open.token(['pull'])), '{}'), 403, 'TOKEN_SCOPE_MISSING');
      assertError(await send(open, 'PUT', part, bearer(await open.token(['push'])), '{}'), 403, 'ACPUSH_UPLOAD_NOT_YOURS');
      assertError(await send(open, 'PUT', '/-/acpush/uploads/nothing/manifest', bearer(owner), '{}'), 404, 'ACPUSH_UPLOAD_NOT_FOUND');
    });

    it('POST /-/acpush/uploads/:id/complete: answers 200 and names the refusal, as acpush needs', async () => {
      const owner = await open.token(['push']);
      const start = await send(open, 'POST', '/-/acpush/start/localhost/app/2.2.0/linux/amd64.aci', bearer(owner));
      const completed = new URL(start.json().completed_url).pathname;
      const cases: [Record<string, string>, string][] = [
        [{}, 'TOKEN_MISSING'],
        [bearer(BAD_TOKEN), 'TOKEN_INVALID'],
        [bearer(await open.token(['pull'])), 'TOKEN_SCOPE_MISSING'],
        [bearer(await open.token(['push'])), 'ACPUSH_UPLOAD_NOT_YOURS'],
      ];
      for (const [headers, reason] of cases) {
        const res = await send(open, 'POST', completed, headers, '{"success":true}');
        assert.equal(res.statusCode, 200);
        assert.equal(res.json().success, false);
        assert.equal(res.json().reason, reason);
        assert.match(res.json().server_reason, new RegExp(`^${reason}: `));
      }
    });

    it('DELETE /-/api/images/*: 401 without or with a bad token, 403 without delete or outside the prefixes; nothing is deleted', async () => {
      const url = '/-/api/images/localhost/app/1.0.0/linux/amd64';
      await assertGuarded(open, 'DELETE', url, { scope: 'delete', others: ['push', 'pull', 'overwrite'], outside: 'localhost/other' });
      assert.equal((await send(open, 'GET', ACI)).statusCode, 200, 'still served');
    });

    it('GET /-/metrics: open by default whatever is sent; with metrics.requireToken only a metrics token', async () => {
      assert.equal((await send(open, 'GET', '/-/metrics')).statusCode, 200);
      assert.equal((await send(open, 'GET', '/-/metrics', bearer(BAD_TOKEN))).statusCode, 200);
      assertError(await send(locked, 'GET', '/-/metrics'), 401, 'TOKEN_MISSING');
      assertError(await send(locked, 'GET', '/-/metrics', bearer(BAD_TOKEN)), 401, 'TOKEN_INVALID');
      assertError(await send(locked, 'GET', '/-/metrics', bearer(await locked.token(['pull', 'push']))), 403, 'TOKEN_SCOPE_MISSING');
      assert.equal((await send(locked, 'GET', '/-/metrics', bearer(await locked.token(['metrics'])))).statusCode, 200);
    });

    it('private .aci and .aci.asc: 401 before existence is checked, 403 without pull or outside the prefixes, 200 with pull', async () => {
      for (const url of [SECRET, `${SECRET}.asc`, SECRET_LATEST, '/-/aci/localhost/secret/app/9.9.9/linux/amd64.aci']) {
        await assertGuarded(locked, 'GET', url, { scope: 'pull', others: ['push', 'delete'], outside: 'localhost/app' });
      }
      const pull = await locked.token(['pull'], ['localhost/secret']);
      for (const auth of [bearer, basic]) {
        for (const url of [SECRET, `${SECRET}.asc`, SECRET_LATEST])
          assert.equal((await send(locked, 'GET', url, auth(pull))).statusCode, 200, url);
      }
    });

    it("GET /-/api/images/NAME: a private name's versions need pull; a wrong token is 401 on any name", async () => {
      const url = '/-/api/images/localhost/secret/app';
      await assertGuarded(locked, 'GET', url, { scope: 'pull', others: ['push'], outside: 'localhost/app' });
      assert.equal((await send(locked, 'GET', url, bearer(await locked.token(['pull'])))).statusCode, 200);
      assert.equal((await send(locked, 'GET', '/-/api/images/localhost/app')).statusCode, 200);
      assertError(await send(locked, 'GET', '/-/api/images/localhost/app', bearer(BAD_TOKEN)), 401, 'TOKEN_INVALID');
    });

    it('GET /-/api/images: a wrong token is 401; without pull a private name is listed with latest null', async () => {
      assertError(await send(locked, 'GET', '/-/api/images', bearer(BAD_TOKEN)), 401, 'TOKEN_INVALID');
      const latestOf = (res: Response) =>
        Object.fromEntries(res.json().images.map((i: { name: string; latest: unknown[] | null }) => [i.name, i.latest?.length ?? null]));
      assert.deepEqual(latestOf(await send(locked, 'GET', '/-/api/images')), { 'localhost/app': 1, 'localhost/secret/app': null });
      const pull = bearer(await locked.token(['pull']));
      assert.deepEqual(latestOf(await send(locked, 'GET', '/-/api/images', pull)), { 'localhost/app': 1, 'localhost/secret/app': 1 });
    });

    it('public files, keys, discovery, health and the API description ignore credentials, even wrong ones', async () => {
      for (const t of [open, locked]) {
        for (const url of [ACI, `${ACI}.asc`, LATEST, `/-/keys/${t.fingerprint}.asc`, '/pubkeys.gpg', '/app/pubkeys.gpg', '/-/api/keys']) {
          assert.equal((await send(t, 'GET', url, bearer(BAD_TOKEN))).statusCode, 200, url);
        }
        const pages = t === locked ? ['/', '/app', '/secret/app'] : ['/', '/app'];
        for (const url of [...pages, '/-/health/live', '/-/health/ready', '/-/api/openapi.json']) {
          assert.equal((await send(t, 'GET', url, basic(BAD_TOKEN))).statusCode, 200, url);
        }
      }
    });
  });

  describe('coordinates: an address no push could have published is 404 and reaches no image storage', () => {
    const LONG = 'a'.repeat(256);
    const invalid = {
      'an upper-case name': 'localhost/App/1.0.0/linux/amd64',
      'too few parts': 'localhost/app/1.0.0/linux',
      'an empty segment': 'localhost//app/1.0.0/linux/amd64',
      'a dot-dot version': 'localhost/app/../linux/amd64',
      'a version with a character no version has': 'localhost/app/ver$ion/linux/amd64',
      'a name segment over 255 bytes': `localhost/${LONG}/1.0.0/linux/amd64`,
      'a name over 512 bytes': `localhost/${'abc/'.repeat(130)}app/1.0.0/linux/amd64`,
      'an os over 128 bytes': `localhost/app/1.0.0/${'l'.repeat(129)}/amd64`,
    };

    for (const [what, path] of Object.entries(invalid)) {
      it(`/-/aci/ and DELETE with ${what}`, async () => {
        const watch = watchImages(open.storage);
        try {
          assertError(await send(open, 'GET', `/-/aci/${path}.aci`), 404, 'IMAGE_NOT_FOUND');
          assertError(await send(open, 'GET', `/-/aci/${path}.aci.asc`), 404, 'IMAGE_NOT_FOUND');
          assertError(await send(open, 'DELETE', `/-/api/images/${path}`, bearer(await open.token(['delete']))), 404, 'IMAGE_NOT_FOUND');
          assert.deepEqual(watch.touched, []);
        } finally {
          watch.stop();
        }
      });
    }

    it('/-/aci/ without the .aci or .aci.asc extension is 404', async () => {
      for (const url of [
        '/-/aci/localhost/app/1.0.0/linux/amd64',
        '/-/aci/localhost/app/1.0.0/linux/amd64.tar',
        '/-/aci/localhost/app/1.0.0/linux/amd64.asc',
      ]) {
        assertError(await send(open, 'GET', url), 404, 'IMAGE_NOT_FOUND');
      }
    });

    it('/-/aci/ names outside the domain, and versions never pushed, are 404; latest resolves, and DELETE refuses it', async () => {
      for (const url of [
        '/-/aci/example.com/app/1.0.0/linux/amd64.aci',
        '/-/aci/localhost/app/9.9.9/linux/amd64.aci',
        '/-/aci/localhost/app/latest/linux/arm64.aci',
      ]) {
        assertError(await send(open, 'GET', url), 404, 'IMAGE_NOT_FOUND');
      }
      assert.equal((await send(open, 'GET', LATEST)).statusCode, 200);
      const del = bearer(await open.token(['delete']));
      assertError(await send(open, 'DELETE', '/-/api/images/localhost/app/latest/linux/amd64', del), 422, 'VERSION_RESERVED');
      assertError(await send(open, 'DELETE', '/-/api/images/localhost/app/9.9.9/linux/amd64', del), 404, 'IMAGE_NOT_FOUND');
    });

    it('GET /-/api/images/NAME: an invalid or unknown name is 404 IMAGE_NOT_FOUND', async () => {
      for (const name of ['localhost/App', 'localhost/nothing', 'localhost//app', 'example.com/app', `localhost/${LONG}`]) {
        assertError(await send(open, 'GET', `/-/api/images/${name}`), 404, 'IMAGE_NOT_FOUND');
      }
    });

    it('POST /-/acpush/start/*: a URL that names no image is refused and starts no upload', async () => {
      const push = bearer(await open.token(['push']));
      const cases: [string, number, string][] = [
        ['localhost/app/1.0.0/linux/amd64', 404, 'ACPUSH_URL_INVALID'],
        ['localhost/App/1.0.0/linux/amd64.aci', 422, 'ACPUSH_NAME_INVALID'],
        ['localhost/app/1.0.0/linux.aci', 422, 'ACPUSH_LABELS_INVALID'],
        ['localhost/app/ver$ion/linux/amd64.aci', 422, 'ACPUSH_LABELS_INVALID'],
        [`localhost/${LONG}/1.0.0/linux/amd64.aci`, 422, 'NAME_TOO_LONG'],
      ];
      const before = open.registry.uploads.openSessions;
      for (const [path, status, code] of cases) assertError(await send(open, 'POST', `/-/acpush/start/${path}`, push), status, code);
      assert.equal(open.registry.uploads.openSessions, before);
    });

    it('discovery: an invalid name, or one with nothing stored or trusted, is the 404 page without tags', async () => {
      for (const path of ['/App', '/a..b', '/-/x', '/nothing']) {
        // A valid name is looked for in storage (another replica may have stored it); an invalid one never.
        const watch = watchImages(open.storage);
        try {
          const res = await send(open, 'GET', `${path}?ac-discovery=1`);
          assert.equal(res.statusCode, 404, path);
          assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
          assert.doesNotMatch(res.body, /name="ac-discovery"/, path);
          if (path !== '/nothing') assert.deepEqual(watch.touched, [], path);
          else assert.notDeepEqual(watch.touched, [], path);
        } finally {
          watch.stop();
        }
      }
      const found = await send(open, 'GET', '/app?ac-discovery=1');
      assert.equal(found.statusCode, 200);
      assert.match(found.body, /<meta name="ac-discovery" content="localhost\/app /);
    });

    it('keys: a malformed fingerprint or a prefix nothing is trusted for is 404', async () => {
      const fp = open.fingerprint;
      for (const name of ['abc.asc', `${fp.toUpperCase()}.asc`, `${fp}.gpg`, fp, `${'0'.repeat(40)}.asc`]) {
        assertError(await send(open, 'GET', `/-/keys/${name}`), 404, 'KEY_NOT_FOUND');
      }
      for (const path of ['/UPPER/pubkeys.gpg', '/nothing/pubkeys.gpg', '/a..b/pubkeys.gpg']) {
        assertError(await send(open, 'GET', path), 404, 'KEYS_FILE_EMPTY');
      }
      assert.equal((await send(open, 'GET', '/app/deeper/pubkeys.gpg')).statusCode, 200, 'covered by localhost/app');
    });

    it('a path that is not valid percent-encoded UTF-8 is 404 NOT_FOUND on every route', async () => {
      for (const url of ['/%ff', '/-/aci/localhost/app/%ff/linux/amd64.aci', '/-/api/images/%ff', '/-/keys/%ff.asc', '/%ff/pubkeys.gpg']) {
        assertError(await send(open, 'GET', url), 404, 'NOT_FOUND');
      }
      assertError(
        await send(open, 'DELETE', '/-/api/images/localhost/app/1.0.0%/linux/amd64', bearer(await open.token(['delete']))),
        404,
        'NOT_FOUND',
      );
    });
  });

  describe('errors: one body shape everywhere', () => {
    it('every refusal of every route is {"error":{"code","message"}} as JSON, and nothing else', async () => {
      const push = bearer(await open.token(['push']));
      const refusals: [Method, string, Record<string, string>, string?][] = [
        ['GET', '/-/aci/localhost/app/9.9.9/linux/amd64.aci', {}],
        ['GET', '/-/keys/abc.asc', {}],
        ['GET', '/nothing/pubkeys.gpg', {}],
        ['GET', '/-/api/images/localhost/nothing', {}],
        ['GET', '/-/api/images?limit=0', {}],
        ['GET', '/-/api/images?cursor=%%%', {}],
        ['GET', '/-/api/images?prefix=UPPER', {}],
        ['GET', '/-/api/images?limit=1&limit=2', {}],
        ['POST', '/-/api/images', {}],
        ['POST', '/-/push', {}],
        ['POST', '/-/push', push, 'not multipart'],
        ['POST', '/-/acpush/start/localhost/app/1.0.0/linux/amd64', push],
        ['PUT', '/-/acpush/uploads/x/nothing', push, '{}'],
        ['DELETE', '/-/api/images/localhost/app/latest/linux/amd64', bearer(await open.token(['delete']))],
        ['DELETE', '/-/nothing', {}],
        ['GET', '/%ff', {}],
        ['GET', ACI, { range: `bytes=${aci.length}-` }],
      ];
      const seen = new Set<number>();
      for (const [method, url, headers, body] of refusals) {
        const res = await send(open, method, url, headers, body);
        assert.ok(res.statusCode >= 400, `${method} ${url}: ${res.statusCode}`);
        assertError(res, res.statusCode, res.json().error.code);
        assert.match(res.json().error.code, /^[A-Z][A-Z0-9_]+$/);
        seen.add(res.statusCode);
      }
      assert.deepEqual([...seen].sort(), [400, 401, 404, 416, 422]);
    });

    it('401 answers carry WWW-Authenticate; 403 and 404 do not', async () => {
      assert.equal((await send(open, 'POST', '/-/push')).headers['www-authenticate'], 'Bearer realm="acihost", Basic realm="acihost"');
      assert.equal((await send(open, 'POST', '/-/push', bearer(await open.token(['pull'])))).headers['www-authenticate'], undefined);
      assert.equal((await send(open, 'GET', '/-/keys/abc.asc')).headers['www-authenticate'], undefined);
    });

    it('a failure inside a route is 500 INTERNAL naming the request id, and shows nothing of the cause', async () => {
      const storage = open.storage;
      const read = storage.read;
      storage.read = async () => {
        throw new Error('EIO: /var/lib/acihost/secret-path');
      };
      try {
        const res = await send(open, 'GET', ACI);
        assertError(res, 500, 'INTERNAL');
        assert.match(res.json().error.message, /request id req-[0-9a-z]+$/);
        assert.doesNotMatch(res.body, /secret-path|EIO/);
      } finally {
        storage.read = read;
      }
    });
  });

  describe('cache headers', () => {
    it('versioned files are immutable, latest is no-cache; both with a strong ETag and Last-Modified', async () => {
      const sha256 = (b: Buffer | string) => `"${createHash('sha256').update(b).digest('hex')}"`;
      const cases: [string, string, string][] = [
        [ACI, IMMUTABLE, sha256(aci)],
        [`${ACI}.asc`, IMMUTABLE, sha256(signature)],
        [LATEST, 'no-cache', sha256(aci)],
        [`${LATEST}.asc`, 'no-cache', sha256(signature)],
      ];
      for (const [url, cacheControl, etag] of cases) {
        const res = await send(open, 'GET', url);
        assert.equal(res.statusCode, 200, url);
        assert.equal(res.headers['cache-control'], cacheControl, url);
        assert.equal(res.headers.etag, etag, url);
        assert.equal(res.headers.vary, undefined, url);
        assert.ok(res.headers['last-modified'] && !Number.isNaN(Date.parse(String(res.headers['last-modified']))), url);
      }
    });

    it('private files are private (latest: private, no-cache) and vary by Authorization; so is the refusal', async () => {
      const pull = bearer(await locked.token(['pull']));
      for (const [url, cacheControl] of [
        [SECRET, 'private'],
        [`${SECRET}.asc`, 'private'],
        [SECRET_LATEST, 'private, no-cache'],
      ] as const) {
        const res = await send(locked, 'GET', url, pull);
        assert.equal(res.headers['cache-control'], cacheControl, url);
        assert.equal(res.headers.vary, 'Authorization', url);
        const refused = await send(locked, 'GET', url);
        assert.equal(refused.headers['cache-control'], cacheControl, url);
        assert.equal(refused.headers.vary, 'Authorization', url);
      }
      assert.equal((await send(locked, 'GET', ACI)).headers['cache-control'], IMMUTABLE, 'public names stay public');
    });

    it('keys and keys files are public for 5 minutes with an ETag', async () => {
      for (const url of [`/-/keys/${open.fingerprint}.asc`, '/pubkeys.gpg', '/app/pubkeys.gpg']) {
        const res = await send(open, 'GET', url);
        assert.equal(res.statusCode, 200, url);
        assert.equal(res.headers['cache-control'], 'public, max-age=300', url);
        assert.equal(res.headers['content-type'], 'application/pgp-keys', url);
        assert.equal(res.headers.etag, `"${createHash('sha256').update(res.rawPayload).digest('hex')}"`, url);
        assert.ok(res.headers['last-modified'], url);
      }
    });

    it('discovery pages are no-cache; with private prefixes they vary by Authorization, and a private name is private', async () => {
      for (const [t, path, cacheControl, vary] of [
        [open, '/', 'no-cache', undefined],
        [open, '/app?ac-discovery=1', 'no-cache', undefined],
        [open, '/nothing', 'no-cache', undefined],
        [open, '/App', 'no-cache', undefined],
        [locked, '/', 'no-cache', 'Authorization'],
        [locked, '/app', 'no-cache', 'Authorization'],
        [locked, '/secret/app', 'private, no-cache', 'Authorization'],
      ] as const) {
        const res = await send(t, 'GET', path);
        assert.equal(res.headers['cache-control'], cacheControl, path);
        assert.equal(res.headers.vary, vary, path);
      }
      const withPull = await send(locked, 'GET', '/app', bearer(await locked.token(['pull'])));
      assert.equal(withPull.headers['cache-control'], 'private, no-cache', 'a page seen with a pull token is that viewer’s');
    });

    it('the API: listings private, no-cache by Authorization; keys and its description no-cache; health, metrics and deletes no-store', async () => {
      const cases: [string, string, string | undefined][] = [
        ['/-/api/images', 'private, no-cache', 'Authorization'],
        ['/-/api/images/localhost/app', 'private, no-cache', 'Authorization'],
        ['/-/api/keys', 'no-cache', undefined],
        ['/-/api/openapi.json', 'no-cache', undefined],
        ['/-/health/live', 'no-store', undefined],
        ['/-/health/ready', 'no-store', undefined],
        ['/-/metrics', 'no-store', undefined],
      ];
      for (const [url, cacheControl, vary] of cases) {
        const res = await send(open, 'GET', url);
        assert.equal(res.statusCode, 200, url);
        assert.equal(res.headers['cache-control'], cacheControl, url);
        assert.equal(res.headers.vary, vary, url);
      }
      const pushed = await open.publish({ name: 'localhost/app/gone', version: '1.0.0' });
      assert.equal(pushed.status, 201);
      const deleted = await send(
        open,
        'DELETE',
        '/-/api/images/localhost/app/gone/1.0.0/linux/amd64',
        bearer(await open.token(['delete'])),
      );
      assert.equal(deleted.statusCode, 200);
      assert.equal(deleted.headers['cache-control'], 'no-store');
    });

    it('If-None-Match with the ETag is 304 with the cache headers and no body; another ETag is 200', async () => {
      for (const url of [ACI, `${ACI}.asc`, LATEST, `/-/keys/${open.fingerprint}.asc`, '/pubkeys.gpg']) {
        const first = await send(open, 'GET', url);
        const etag = String(first.headers.etag);
        for (const header of [etag, `"other", ${etag}`, `W/${etag}`, '*']) {
          const again = await send(open, 'GET', url, { 'if-none-match': header });
          assert.equal(again.statusCode, 304, `${url} ${header}`);
          assert.equal(again.rawPayload.length, 0);
          assert.equal(again.headers.etag, etag);
          assert.equal(again.headers['cache-control'], first.headers['cache-control']);
        }
        assert.equal((await send(open, 'GET', url, { 'if-none-match': '"other"' })).statusCode, 200, url);
      }
    });
  });

  describe('HEAD: the GET answer without its body', () => {
    const compare = async (t: TestApp, url: string, headers: Record<string, string> = {}) => {
      const [get, head] = [await send(t, 'GET', url, headers), await send(t, 'HEAD', url, headers)];
      assert.equal(head.statusCode, get.statusCode, url);
      const comparable = (h: Response['headers']) => {
        const { date: _date, ...rest } = h;
        // The scrape itself changes the metrics text.
        if (url === '/-/metrics') delete rest['content-length'];
        return rest;
      };
      assert.deepEqual(comparable(head.headers), comparable(get.headers), url);
      assert.equal(head.rawPayload.length, 0, url);
      if (url !== '/-/metrics' && get.statusCode !== 304) assert.equal(Number(get.headers['content-length']), get.rawPayload.length, url);
    };

    it('for every GET route that answers 200', async () => {
      const urls = [
        '/',
        '/app?ac-discovery=1',
        ACI,
        `${ACI}.asc`,
        LATEST,
        `/-/keys/${open.fingerprint}.asc`,
        '/pubkeys.gpg',
        '/app/pubkeys.gpg',
        '/-/health/live',
        '/-/health/ready',
        '/-/metrics',
        '/-/api/images',
        '/-/api/images/localhost/app',
        '/-/api/keys',
        '/-/api/openapi.json',
      ];
      for (const url of urls) await compare(open, url);
      const pull = bearer(await locked.token(['pull']));
      for (const url of [SECRET, `${SECRET}.asc`, '/secret/app']) await compare(locked, url, pull);
    });

    it('for refusals', async () => {
      for (const url of [
        '/nothing',
        '/App',
        '/-/aci/localhost/app/9.9.9/linux/amd64.aci',
        '/-/keys/abc.asc',
        '/-/api/images/localhost/nothing',
        '/-/api/nothing',
      ]) {
        await compare(open, url);
      }
      await compare(locked, SECRET);
      await compare(locked, SECRET, bearer(BAD_TOKEN));
    });

    it('for ranges and conditional requests', async () => {
      for (const url of [ACI, `${ACI}.asc`, `/-/keys/${open.fingerprint}.asc`, '/pubkeys.gpg']) {
        await compare(open, url, { range: 'bytes=10-19' });
        await compare(open, url, { range: 'bytes=999999-' });
        await compare(open, url, { 'if-none-match': String((await send(open, 'HEAD', url)).headers.etag) });
      }
    });

    it('opens no image bytes', async () => {
      const watch = watchImages(open.storage);
      try {
        assert.equal((await send(open, 'HEAD', ACI)).statusCode, 200);
        assert.equal((await send(open, 'HEAD', ACI, { range: 'bytes=10-19' })).statusCode, 206);
        assert.deepEqual(watch.touched, []);
        await send(open, 'GET', ACI);
        assert.equal(watch.touched.length, 1, 'the watch sees a GET read its blob');
      } finally {
        watch.stop();
      }
    });
  });

  describe('ranges: one byte range per file, by RFC 9110', () => {
    /** Each served file and its bytes. */
    const files = async () => {
      const key = await send(open, 'GET', `/-/keys/${open.fingerprint}.asc`);
      const keysFile = await send(open, 'GET', '/pubkeys.gpg');
      return [
        [ACI, aci],
        [`${ACI}.asc`, signature],
        [LATEST, aci],
        [`/-/keys/${open.fingerprint}.asc`, key.rawPayload],
        ['/pubkeys.gpg', keysFile.rawPayload],
      ] as const;
    };

    const assertPartial = (res: Response, whole: Buffer, start: number, end: number, label: string) => {
      assert.equal(res.statusCode, 206, `${label}: ${res.body.slice(0, 200)}`);
      assert.equal(res.headers['content-range'], `bytes ${start}-${end}/${whole.length}`, label);
      assert.equal(res.headers['content-length'], String(end - start + 1), label);
      assert.ok(res.rawPayload.equals(whole.subarray(start, end + 1)), label);
    };

    it('a range, an open end, a suffix, and an end past the file clipped to it', async () => {
      for (const [url, whole] of await files()) {
        const n = whole.length;
        assert.equal((await send(open, 'GET', url)).headers['accept-ranges'], 'bytes', url);
        assertPartial(await send(open, 'GET', url, { range: 'bytes=100-199' }), whole, 100, 199, `${url} 100-199`);
        assertPartial(await send(open, 'GET', url, { range: 'bytes=0-0' }), whole, 0, 0, `${url} 0-0`);
        assertPartial(await send(open, 'GET', url, { range: `bytes=${n - 10}-` }), whole, n - 10, n - 1, `${url} open end`);
        assertPartial(await send(open, 'GET', url, { range: 'bytes=-25' }), whole, n - 25, n - 1, `${url} suffix`);
        assertPartial(await send(open, 'GET', url, { range: `bytes=-${n + 100}` }), whole, 0, n - 1, `${url} long suffix`);
        assertPartial(await send(open, 'GET', url, { range: `bytes=${n - 5}-${n + 500}` }), whole, n - 5, n - 1, `${url} clipped`);
        assertPartial(await send(open, 'GET', url, { range: 'BYTES=1-2' }), whole, 1, 2, `${url} unit case`);
      }
    });

    it('416 RANGE_NOT_SATISFIABLE with Content-Range */LENGTH when no range starts inside the file', async () => {
      for (const [url, whole] of await files()) {
        for (const range of [`bytes=${whole.length}-`, `bytes=${whole.length + 10}-${whole.length + 20}`, 'bytes=-0']) {
          const res = await send(open, 'GET', url, { range });
          assertError(res, 416, 'RANGE_NOT_SATISFIABLE');
          assert.equal(res.headers['content-range'], `bytes */${whole.length}`, `${url} ${range}`);
        }
      }
    });

    it('ranges that overlap or touch are joined into one; others, other units and bad syntax get the whole file', async () => {
      for (const [url, whole] of await files()) {
        assertPartial(await send(open, 'GET', url, { range: 'bytes=10-19,15-29' }), whole, 10, 29, `${url} overlapping`);
        assertPartial(await send(open, 'GET', url, { range: 'bytes=20-29, 10-19' }), whole, 10, 29, `${url} touching`);
        for (const range of ['bytes=0-9,20-29', 'items=0-9', 'bytes=9-0', 'bytes=a-b', 'bytes=', '0-9', `bytes=${'0-0,'.repeat(101)}0-0`]) {
          const res = await send(open, 'GET', url, { range });
          assert.equal(res.statusCode, 200, `${url} ${range}`);
          assert.equal(res.headers['content-range'], undefined);
          assert.ok(res.rawPayload.equals(whole), `${url} ${range}`);
        }
      }
    });

    it('If-Range with the ETag keeps the range; with another ETag or a date the whole file is sent', async () => {
      for (const [url, whole] of await files()) {
        const etag = String((await send(open, 'HEAD', url)).headers.etag);
        assertPartial(await send(open, 'GET', url, { range: 'bytes=0-9', 'if-range': etag }), whole, 0, 9, `${url} If-Range`);
        for (const ifRange of ['"other"', new Date().toUTCString()]) {
          const res = await send(open, 'GET', url, { range: 'bytes=0-9', 'if-range': ifRange });
          assert.equal(res.statusCode, 200, `${url} ${ifRange}`);
          assert.ok(res.rawPayload.equals(whole));
        }
      }
    });

    it('a private file is served in ranges to a pull token, and its refusal is not a range', async () => {
      const pull = bearer(await locked.token(['pull']));
      const whole = (await send(locked, 'GET', SECRET, pull)).rawPayload;
      assertPartial(await send(locked, 'GET', SECRET, { ...pull, range: 'bytes=5-14' }), whole, 5, 14, 'private');
      assertError(await send(locked, 'GET', SECRET, { range: 'bytes=5-14' }), 401, 'TOKEN_MISSING');
    });

    it('discovery pages and API answers ignore Range', async () => {
      for (const url of ['/', '/app', '/-/api/images', '/-/api/keys']) {
        const res = await send(open, 'GET', url, { range: 'bytes=0-9' });
        assert.equal(res.statusCode, 200, url);
        assert.equal(res.headers['content-range'], undefined, url);
        assert.ok(res.rawPayload.length > 10, url);
      }
    });
  });
});
