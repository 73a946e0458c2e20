/**
 * Failed authentication is limited per client address (429 with Retry-After),
 * while requests without credentials, valid tokens from clean addresses and
 * other clients behind a trusted proxy go on being served.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../helpers/server.ts';

describe('failed authentication rate limit', () => {
  let server: TestServer;
  let token: string;
  const BAD = 'Bearer acih_00000000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
  const api = (authorization?: string, forwardedFor?: string) =>
    server.request('/-/api/images', {
      headers: { ...(authorization ? { authorization } : {}), ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) },
    });

  before(async () => {
    server = await startTestServer({
      config: { rateLimit: { failedAuthAttempts: 3, windowSeconds: 60 }, server: { trustProxy: ['127.0.0.1'] } },
    });
    const r = await server.cli(['token', 'create', '--prefix', 'localhost', '--scope', 'pull']);
    token = r.stdout.split('\n')[0]!;
  });
  after(() => server?.close());

  it('never limits successful traffic', async () => {
    for (let i = 0; i < 30; i++) assert.equal((await api(`Bearer ${token}`, '198.51.100.1')).status, 200);
  });

  it('answers 429 with Retry-After once an address has failed too often, before looking at its token', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await api(BAD, '203.0.113.7')).status, 401);
    const limited = await api(BAD, '203.0.113.7');
    assert.equal(limited.status, 429);
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After ${limited.headers['retry-after']}`);
    assert.equal(JSON.parse(limited.body.toString()).error.code, 'AUTH_RATE_LIMITED');
    // A right guess from that address is refused too: that is what stops guessing.
    assert.equal((await api(`Bearer ${token}`, '203.0.113.7')).status, 429);
    // The same address without credentials still reads public things.
    assert.equal((await server.request('/', { headers: { 'x-forwarded-for': '203.0.113.7' } })).status, 200);
    // A token that already worked from an address keeps working there after others failed.
    assert.equal((await api(`Bearer ${token}`, '203.0.113.9')).status, 200);
    for (let i = 0; i < 4; i++) await api(BAD, '203.0.113.9');
    assert.equal((await api(BAD, '203.0.113.9')).status, 429);
    assert.equal((await api(`Bearer ${token}`, '203.0.113.9')).status, 200);
    // Another client behind the same trusted proxy is not affected.
    assert.equal((await api(`Bearer ${token}`, '203.0.113.8')).status, 200);
    const metrics = (await server.request('/-/metrics')).body.toString();
    assert.match(metrics, /acihost_auth_failures_total\{status="429"\} 4/);
  });
});
