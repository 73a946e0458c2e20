/**
 * Tokens managed over the API, in process (app.inject over a real filesystem store):
 * the admin boundary (an admin acts at or below its own prefixes only, segment-aligned,
 * and never makes a token wider or longer-lived than itself), the body's refusals,
 * secrets shown once, last use recorded with at most one write a minute, and the
 * two-week expiry notice (listing, metric, one audit event across restarts and replicas).
 */
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { createLogger } from '../../src/logger.ts';
import { TokenExpiryWatch } from '../../src/registry/access/token-expiry-watch.ts';
import { TokenStore } from '../../src/registry/access/tokens.ts';
import { AuditLog } from '../../src/registry/audit-log.ts';
import { buildTestApp, type TestApp } from '../helpers/app.ts';
import { readAudit } from '../helpers/audit.ts';

const DAY_S = 86_400;
const DAY_MS = DAY_S * 1000;
const idOf = (token: string) => token.split('_')[1]!;
const secretOf = (token: string) => token.split('_').slice(2).join('_');

describe('tokens over the API', () => {
  let t: TestApp;
  /** Admin of the whole image domain, and of localhost/team only. */
  let domainAdmin: string;
  let teamAdmin: string;

  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, token?: string, payload?: unknown): Promise<LightMyRequestResponse> =>
    t.app.inject({
      method,
      url,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
  const mint = (token: string, body: unknown) => call('POST', '/-/api/tokens', token, body);
  /** A body sent as it is, under `contentType`. */
  const postRaw = (contentType: string, payload: string, token?: string) =>
    t.app.inject({
      method: 'POST',
      url: '/-/api/tokens',
      headers: { 'content-type': contentType, ...(token ? { authorization: `Bearer ${token}` } : {}) },
      payload,
    });
  const list = async (token: string): Promise<{ id: string; [k: string]: unknown }[]> => {
    const res = await call('GET', '/-/api/tokens', token);
    assert.equal(res.statusCode, 200, res.body);
    return res.json().tokens;
  };
  const refused = (res: LightMyRequestResponse, status: number, code: string) => {
    assert.equal(res.statusCode, status, res.body);
    assert.equal(res.json().error.code, code, res.body);
  };
  const stored = async () => new Set((await t.registry.tokens.list()).map((r) => r.id));

  before(async () => {
    t = await buildTestApp();
    domainAdmin = await t.token(['admin']);
    teamAdmin = await t.token(['admin'], ['localhost/team']);
  });
  after(() => t?.close());

  describe('who may call', () => {
    it('answers 401 without a valid token, before the body is read', async () => {
      for (const [method, url] of [
        ['GET', '/-/api/tokens'],
        ['POST', '/-/api/tokens'],
        ['DELETE', `/-/api/tokens/${'0'.repeat(20)}`],
      ] as const) {
        refused(await call(method, url), 401, 'TOKEN_MISSING');
        refused(await call(method, url, `acih_${'0'.repeat(20)}_${'x'.repeat(43)}`, { nonsense: true }), 401, 'TOKEN_INVALID');
      }
      refused(await postRaw('application/json', '{"prefix":'), 401, 'TOKEN_MISSING');
    });

    it('answers 403 TOKEN_SCOPE_MISSING to a token without the admin scope, whatever else it holds', async () => {
      const strong = await t.token(['push', 'pull', 'delete', 'overwrite', 'metrics']);
      const before = await stored();
      refused(await mint(strong, { prefix: 'localhost/x' }), 403, 'TOKEN_SCOPE_MISSING');
      refused(await call('GET', '/-/api/tokens', strong), 403, 'TOKEN_SCOPE_MISSING');
      refused(await call('DELETE', `/-/api/tokens/${idOf(strong)}`, strong), 403, 'TOKEN_SCOPE_MISSING');
      assert.deepEqual(await stored(), before, 'nothing made, nothing revoked');
    });
  });

  describe('the admin boundary', () => {
    it('makes tokens at and below its own prefix, an admin for a sub-prefix included', async () => {
      for (const body of [
        { prefix: 'localhost/team', scopes: ['push'] },
        { prefixes: ['localhost/team/app', 'localhost/team/lib'], scopes: ['pull', 'delete', 'overwrite'] },
        { prefix: 'localhost/team/sub', scopes: ['admin', 'push'] },
      ]) {
        const res = await mint(teamAdmin, body);
        assert.equal(res.statusCode, 201, res.body);
        const made = res.json();
        assert.match(made.token, /^acih_[0-9a-f]{20}_[A-Za-z0-9_-]{43}$/);
        assert.equal(idOf(made.token), made.id);
        assert.deepEqual(made.prefixes, body.prefix ? [body.prefix] : body.prefixes);
        assert.equal(made.createdBy, idOf(teamAdmin));
        assert.equal(res.headers['cache-control'], 'no-store');
        // The new token works at once.
        assert.equal((await t.registry.tokens.authenticate(made.token)).id, made.id);
      }
    });

    it('never makes a token for a wider, a neighbouring or a look-alike prefix, and stores nothing', async () => {
      const before = await stored();
      for (const prefix of ['localhost', 'localhost/other', 'localhost/teamx', 'localhost/team-x', 'localhost/tea']) {
        refused(await mint(teamAdmin, { prefix, scopes: ['push'] }), 403, 'TOKEN_PREFIX_NOT_ALLOWED');
      }
      // One prefix outside spoils the request.
      refused(await mint(teamAdmin, { prefixes: ['localhost/team/ok', 'localhost/other'] }), 403, 'TOKEN_PREFIX_NOT_ALLOWED');
      // Spellings that would climb out, or name another domain, are no prefixes at all.
      for (const prefix of [
        'localhost/team/../other',
        'localhost/team/',
        'localhost/team//x',
        'localhost/Team',
        'localhost/team/./x',
        '',
      ]) {
        refused(await mint(teamAdmin, { prefix }), 422, 'TOKEN_PREFIX_INVALID');
      }
      for (const prefix of ['example.com/team', 'localhostx/team']) {
        refused(await mint(teamAdmin, { prefix }), 422, 'TOKEN_PREFIX_OUTSIDE_DOMAIN');
      }
      assert.deepEqual(await stored(), before);
    });

    it('an admin it made for a sub-prefix cannot climb back up', async () => {
      const sub = (await mint(teamAdmin, { prefix: 'localhost/team/sub', scopes: ['admin'] })).json().token as string;
      refused(await mint(sub, { prefix: 'localhost/team' }), 403, 'TOKEN_PREFIX_NOT_ALLOWED');
      refused(await mint(sub, { prefix: 'localhost/team/subx' }), 403, 'TOKEN_PREFIX_NOT_ALLOWED');
      assert.equal((await mint(sub, { prefix: 'localhost/team/sub/deeper', scopes: ['admin'] })).statusCode, 201);
      const seen = (await list(sub)).map((v) => v.prefixes);
      assert.ok(seen.length >= 2);
      for (const prefixes of seen) for (const p of prefixes as string[]) assert.match(p, /^localhost\/team\/sub(\/|$)/);
    });

    it('grants metrics, which no prefix bounds, only as an admin of the whole domain', async () => {
      refused(await mint(teamAdmin, { prefix: 'localhost/team', scopes: ['metrics'] }), 403, 'TOKEN_SCOPE_NOT_ALLOWED');
      assert.equal((await mint(domainAdmin, { prefix: 'localhost/team', scopes: ['metrics'] })).statusCode, 201);
    });

    it('makes no token that outlives the admin token; left to the default, the new one ends with it', async () => {
      const { token: shortAdmin, record } = await t.registry.tokens.create({
        prefixes: ['localhost/team'],
        scopes: ['admin'],
        name: 'short',
        expiresInSeconds: 30 * DAY_S,
      });
      refused(await mint(shortAdmin, { prefix: 'localhost/team', expires: '90d' }), 403, 'TOKEN_EXPIRY_NOT_ALLOWED');
      refused(await mint(shortAdmin, { prefix: 'localhost/team', expires: null }), 403, 'TOKEN_EXPIRY_NOT_ALLOWED');
      refused(await mint(shortAdmin, { prefix: 'localhost/team', expires: 'never' }), 403, 'TOKEN_EXPIRY_NOT_ALLOWED');
      const inside = await mint(shortAdmin, { prefix: 'localhost/team', expires: '7d' });
      assert.equal(inside.statusCode, 201, inside.body);
      const defaulted = (await mint(shortAdmin, { prefix: 'localhost/team' })).json();
      assert.ok(Date.parse(defaulted.expiresAt) <= Date.parse(record.expiresAt!));
      assert.ok(Date.parse(defaulted.expiresAt) > Date.now() + 29 * DAY_MS);
      // An admin that never expires may make one that never does.
      assert.equal((await mint(teamAdmin, { prefix: 'localhost/team', expires: null })).json().expiresAt, null);
    });

    it('lists and revokes only tokens all of whose prefixes are at or below its own', async () => {
      const make = async (prefixes: string[]) =>
        (await t.registry.tokens.create({ prefixes, scopes: ['push'], name: prefixes.join('+'), expiresInSeconds: null })).record.id;
      const inside = await make(['localhost/team/a', 'localhost/team']);
      const straddling = await make(['localhost/team/a', 'localhost/other']);
      const wider = await make(['localhost']);
      const lookalike = await make(['localhost/teamx']);
      const seen = new Set((await list(teamAdmin)).map((v) => v.id));
      assert.ok(seen.has(inside));
      assert.ok(seen.has(idOf(teamAdmin)), 'itself');
      for (const hidden of [straddling, wider, lookalike, idOf(domainAdmin)]) assert.ok(!seen.has(hidden), hidden);
      // The domain admin sees every one.
      const all = new Set((await list(domainAdmin)).map((v) => v.id));
      for (const id of [inside, straddling, wider, lookalike, idOf(teamAdmin)]) assert.ok(all.has(id));

      for (const hidden of [straddling, wider, lookalike, idOf(domainAdmin), 'f'.repeat(20), 'not-an-id', '..%2F..%2Fkeys']) {
        refused(await call('DELETE', `/-/api/tokens/${hidden}`, teamAdmin), 404, 'TOKEN_NOT_FOUND');
      }
      assert.ok((await stored()).has(straddling), 'still there');
      const res = await call('DELETE', `/-/api/tokens/${inside}`, teamAdmin);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().revoked.id, inside);
      assert.ok(!(await stored()).has(inside));
      refused(await call('DELETE', `/-/api/tokens/${inside}`, teamAdmin), 404, 'TOKEN_NOT_FOUND');
    });

    it('audits what an admin made, revoked and was refused, with its id as actor and no secret', async () => {
      const made = (await mint(teamAdmin, { prefix: 'localhost/team/audited', name: 'audited' })).json();
      await call('DELETE', `/-/api/tokens/${made.id}`, teamAdmin);
      await mint(teamAdmin, { prefix: 'localhost/other', name: 'refused' });
      const events = (await readAudit(t.storageDir)).filter((e) => e.actor === idOf(teamAdmin));
      const summary = events.map((e) => `${e.action} ${e.result} ${e.code ?? ''}`.trim());
      assert.ok(summary.includes('token.create created'));
      assert.ok(summary.includes('token.revoke revoked'));
      assert.ok(summary.includes('token.create refused TOKEN_PREFIX_NOT_ALLOWED'));
      assert.ok(!JSON.stringify(events).includes(secretOf(made.token)));
    });
  });

  describe('the body', () => {
    it('refuses what it does not understand, naming the field, and makes nothing', async () => {
      const before = await stored();
      const cases: [unknown, string][] = [
        [{ prefix: 'localhost/team', expiry: '1d' }, 'TOKEN_REQUEST_INVALID'],
        [{ prefix: 'localhost/team', prefixes: ['localhost/team'] }, 'TOKEN_REQUEST_INVALID'],
        [{}, 'TOKEN_REQUEST_INVALID'],
        [{ prefix: ['localhost/team'] }, 'TOKEN_REQUEST_INVALID'],
        [{ prefixes: [] }, 'TOKEN_REQUEST_INVALID'],
        [{ prefix: 'localhost/team', scopes: 'push' }, 'TOKEN_REQUEST_INVALID'],
        [{ prefix: 'localhost/team', scopes: [] }, 'TOKEN_REQUEST_INVALID'],
        [{ prefix: 'localhost/team', name: 5 }, 'TOKEN_REQUEST_INVALID'],
        [['localhost/team'], 'TOKEN_REQUEST_INVALID'],
        [{ prefix: 'localhost/team', scopes: ['root'] }, 'TOKEN_SCOPE_INVALID'],
        [{ prefix: 'localhost/team', expires: 'soon' }, 'TOKEN_EXPIRY_INVALID'],
        [{ prefix: 'localhost/team', expires: 90 }, 'TOKEN_EXPIRY_INVALID'],
        [{ prefix: 'localhost/team', name: 'ci\nfake 0000 admin' }, 'TOKEN_NAME_INVALID'],
        [{ prefix: 'localhost/team', name: 'x'.repeat(129) }, 'TOKEN_NAME_INVALID'],
      ];
      for (const [body, code] of cases) refused(await mint(teamAdmin, body), 422, code);
      const text = await postRaw('text/plain', 'prefix=localhost/team', teamAdmin);
      refused(text, 422, 'TOKEN_REQUEST_INVALID');
      assert.match(text.json().error.message, /application\/json/);
      refused(await postRaw('application/json', '{"prefix":', teamAdmin), 400, 'JSON_BODY_INVALID');
      assert.deepEqual(await stored(), before);
    });

    it('defaults to the push scope, no name and tokens.defaultExpiry, as the command line does', async () => {
      const made = (await mint(domainAdmin, { prefix: 'localhost/defaults' })).json();
      assert.deepEqual(made.scopes, ['push']);
      assert.equal(made.name, '');
      const days = (Date.parse(made.expiresAt) - Date.parse(made.createdAt)) / DAY_MS;
      assert.equal(days, 365);
      assert.deepEqual(Object.keys(made), [
        'id',
        'token',
        'name',
        'prefixes',
        'scopes',
        'createdAt',
        'createdBy',
        'expiresAt',
        'lastUsedAt',
        'expired',
        'expiringSoon',
      ]);
    });
  });

  describe('secrets', () => {
    it('shows the secret in the answer that made the token and nowhere after', async () => {
      const made = (await mint(domainAdmin, { prefix: 'localhost/hidden' })).json();
      const listing = (await call('GET', '/-/api/tokens', domainAdmin)).body;
      assert.ok(!listing.includes(secretOf(made.token)));
      assert.doesNotMatch(listing, /acih_|secret/i);
      const revoked = (await call('DELETE', `/-/api/tokens/${made.id}`, domainAdmin)).body;
      assert.doesNotMatch(revoked, /acih_|secret/i);
    });
  });

  describe('last use', () => {
    /** Counts storage puts to keys starting with `prefix` while `act` runs. */
    async function countPuts(prefix: string, act: () => Promise<void>): Promise<string[]> {
      const puts: string[] = [];
      const original = t.storage.put;
      t.storage.put = (key, ...rest) => {
        if (key.startsWith(prefix)) puts.push(key);
        return original.call(t.storage, key, ...rest);
      };
      try {
        await act();
        // Were the write made after the answer, it would show within this.
        await new Promise((r) => setTimeout(r, 100));
      } finally {
        t.storage.put = original;
      }
      return puts;
    }

    it('writes once for many uses within a minute, and shows it in the listing', async () => {
      const token = await t.token(['pull']);
      const puts = await countPuts('token-use/', async () => {
        for (let i = 0; i < 25; i++) assert.equal((await call('GET', '/-/api/images', token)).statusCode, 200);
        await Promise.all(Array.from({ length: 25 }, () => call('GET', '/-/api/images', token)));
      });
      assert.deepEqual(puts, [`token-use/${idOf(token)}.json`]);
      const view = (await list(domainAdmin)).find((v) => v.id === idOf(token))!;
      assert.ok(Date.now() - Date.parse(view.lastUsedAt as string) < 10_000, String(view.lastUsedAt));
      // A minute on, the next use is written again.
      const later = t.registry.tokens.use.note(idOf(token), new Date(Date.now() + 61_000));
      assert.ok(later, 'written');
      await later;
      assert.equal(t.registry.tokens.use.note(idOf(token), new Date(Date.now() + 62_000)), undefined);
    });

    it('records no use for a refused request, however it was refused', async () => {
      const pullOnly = await t.token(['pull'], ['localhost/team']);
      const pusher = await t.token(['push'], ['localhost/other']);
      const puts = await countPuts('token-use/', async () => {
        refused(await call('POST', '/-/push', pullOnly), 403, 'TOKEN_SCOPE_MISSING');
        refused(await call('GET', '/-/api/tokens', pullOnly), 403, 'TOKEN_SCOPE_MISSING');
        refused(await call('DELETE', '/-/api/images/localhost/app/1.0.0/linux/amd64', pullOnly), 403, 'TOKEN_SCOPE_MISSING');
        const start = await call('POST', '/-/acpush/start/localhost/app/1.0.0/linux/amd64.aci', pusher);
        refused(start, 403, 'PREFIX_NOT_ALLOWED');
        // An acpush completion refuses in a 200: not a use either.
        const completion = await call('POST', '/-/acpush/uploads/nothing/complete', pusher, { success: true });
        assert.equal(completion.statusCode, 200);
        assert.equal(completion.json().success, false);
        // A wrong secret for a real id, on a page that stays public.
        const forged = `acih_${idOf(pusher)}_${'x'.repeat(43)}`;
        assert.equal((await call('GET', '/', forged)).statusCode, 200);
      });
      assert.deepEqual(puts, []);
      for (const token of [pullOnly, pusher]) {
        assert.equal((await list(domainAdmin)).find((v) => v.id === idOf(token))!.lastUsedAt, null);
      }
    });

    it('reads old records without the new fields, and lists them with nulls', async () => {
      const id = 'a'.repeat(20);
      // As an older acihost wrote it: no createdBy.
      const legacy = {
        id,
        name: 'old',
        prefixes: ['localhost/legacy'],
        scopes: ['push'],
        secretSha256: '0'.repeat(64),
        createdAt: '2020-01-01T00:00:00.000Z',
        expiresAt: null,
      };
      await mkdir(join(t.storageDir, 'tokens'), { recursive: true });
      await writeFile(join(t.storageDir, 'tokens', `${id}.json`), JSON.stringify(legacy));
      const view = (await list(domainAdmin)).find((v) => v.id === id);
      assert.deepEqual(view, {
        id,
        name: 'old',
        prefixes: ['localhost/legacy'],
        scopes: ['push'],
        createdAt: legacy.createdAt,
        createdBy: null,
        expiresAt: null,
        lastUsedAt: null,
        expired: false,
        expiringSoon: false,
      });
    });
  });

  describe('expiring tokens', () => {
    it('marks a token expiring within 14 days in the listing and the metric; made short-lived, it is no news', async () => {
      const now = Date.now();
      const metric = async () => {
        const text = (await call('GET', '/-/metrics')).body;
        return Number(/^acihost_tokens_expiring (\d+)$/m.exec(text)![1]);
      };
      const before = await metric();
      // Made 20 days ago to last 30: 10 days left.
      const soon = await t.registry.tokens.create(
        { prefixes: ['localhost/soon'], scopes: ['push'], name: 'soon', expiresInSeconds: 30 * DAY_S },
        new Date(now - 20 * DAY_MS),
      );
      const brief = await t.registry.tokens.create({ prefixes: ['localhost/ci'], scopes: ['push'], name: 'ci', expiresInSeconds: 3600 });
      const gone = await t.registry.tokens.create(
        { prefixes: ['localhost/gone'], scopes: ['push'], name: 'gone', expiresInSeconds: 30 * DAY_S },
        new Date(now - 31 * DAY_MS),
      );
      const views = await list(domainAdmin);
      const flags = (id: string) => {
        const v = views.find((x) => x.id === id)!;
        return [v.expiringSoon, v.expired];
      };
      assert.deepEqual(flags(soon.record.id), [true, false]);
      assert.deepEqual(flags(brief.record.id), [false, false]);
      assert.deepEqual(flags(gone.record.id), [false, true]);
      await t.registry.tokens.mirror.refresh();
      assert.equal(await metric(), before + 1);
    });

    it('audits token.expiring once per token, whichever process or restart checks', async () => {
      const now = new Date();
      const made = await t.registry.tokens.create(
        { prefixes: ['localhost/once'], scopes: ['push'], name: 'once', expiresInSeconds: 20 * DAY_S },
        new Date(now.getTime() - 10 * DAY_MS),
      );
      const log = createLogger('silent');
      // Two replicas over the same storage, each with its own view of the tokens.
      const replica = () => {
        const tokens = new TokenStore(t.storage, 'localhost');
        return { tokens, watch: new TokenExpiryWatch({ storage: t.storage, tokens, audit: new AuditLog(t.storage), log }) };
      };
      const [a, b] = [replica(), replica()];
      await Promise.all([a.tokens.mirror.refresh(), b.tokens.mirror.refresh()]);
      const [fromA, fromB] = await Promise.all([a.watch.check(now), b.watch.check(now)]);
      assert.deepEqual(
        [...fromA, ...fromB].filter((id) => id === made.record.id),
        [made.record.id],
      );
      assert.deepEqual(await a.watch.check(now), []);
      // A restart knows nothing in memory; the marker in storage holds.
      const restarted = replica();
      await restarted.tokens.mirror.refresh();
      assert.ok(!(await restarted.watch.check(new Date(now.getTime() + DAY_MS))).includes(made.record.id));
      const events = (await readAudit(t.storageDir)).filter((e) => e.action === 'token.expiring');
      const mine = events.filter((e) => (e.detail as { tokenId: string }).tokenId === made.record.id);
      assert.equal(mine.length, 1);
      assert.equal(mine[0]!.result, 'expiring');
      assert.equal(mine[0]!.actor, null);
      assert.deepEqual((mine[0]!.detail as { prefixes: string[] }).prefixes, ['localhost/once']);
    });
  });
});
