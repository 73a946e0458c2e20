/**
 * Guessing tokens, route by route: on every route that reads credentials, wrong
 * tokens (Bearer and Basic) count against the address, and past the limit that
 * route gives the limit's answer, to a right token too, while the right token
 * from another address is served as before. The acpush completion, which
 * answers 200 to everything, answers the limit as a 200 with its reason.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createFixture, type Fixture } from '../helpers/fixture.ts';
import { assertNoInternals } from './support.ts';

const WRONG = 'acih_00000000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const bearer = (t: string) => `Bearer ${t}`;
const basic = (t: string) => `Basic ${Buffer.from(`ci:${t}`).toString('base64')}`;
const ATTEMPTS = 3;

interface Answer {
  status: number;
  body: string;
}

describe('failed authentication on every credentialed route', () => {
  let f: Fixture;
  let all: string;
  let sessionPath: string;
  let address = 0;

  before(async () => {
    f = await createFixture({
      prefix: 'localhost',
      config: {
        rateLimit: { failedAuthAttempts: ATTEMPTS, windowSeconds: 60 },
        server: { trustProxy: ['127.0.0.1'] },
        access: { privatePrefixes: ['localhost/priv'] },
        metrics: { requireToken: true },
      },
    });
    all = await f.createToken(['--prefix', 'localhost', '--scope', 'push', '--scope', 'pull', '--scope', 'delete', '--scope', 'metrics']);
    f.token = all;
    assert.equal((await f.push({ name: 'localhost/priv/app', version: '1.0.0' })).status, 201);
    const start = await f.server.request('/-/acpush/start/localhost/team/app/1.0.0/linux/amd64.aci', {
      method: 'POST',
      headers: { authorization: bearer(all), 'x-forwarded-for': '198.51.100.200' },
    });
    assert.equal(start.status, 200, start.body.toString());
    sessionPath = new URL(JSON.parse(start.body.toString()).completed_url).pathname.replace(/\/complete$/, '');
  });
  after(() => f?.close());

  const send = async (route: Route, authorization: string, from: string): Promise<Answer> => {
    const res = await f.server.request(route.path(), {
      method: route.method,
      headers: { authorization, 'x-forwarded-for': from, ...(route.body ? { 'content-type': 'application/json' } : {}) },
      body: route.body ? Buffer.from(route.body) : undefined,
    });
    return { status: res.status, body: res.body.toString() };
  };

  interface Route {
    what: string;
    method: string;
    path: () => string;
    body?: string;
    /** What a wrong token gets before the limit. */
    wrong: (a: Answer) => void;
    /** What any credentials get from a limited address. */
    limited: (a: Answer) => void;
    /** What the right token gets from an address in good standing. */
    right: (a: Answer) => void;
  }

  const code = (a: Answer) => JSON.parse(a.body).error?.code;
  const is401 = (a: Answer) => {
    assert.equal(a.status, 401, a.body);
    assert.match(code(a), /^TOKEN_/);
  };
  const is429 = (a: Answer) => {
    assert.equal(a.status, 429, a.body);
    assert.equal(code(a), 'AUTH_RATE_LIMITED');
  };
  const served = (a: Answer) => assert.ok(a.status < 400 || a.status === 404 || a.status === 409, `${a.status} ${a.body}`);
  // Pages stay public whatever credentials come (rkt sends its auth.d ones to discovery).
  const page = (a: Answer) => assert.equal(a.status, 200, a.body);
  const reason = (expected: RegExp) => (a: Answer) => {
    assert.equal(a.status, 200, a.body);
    assert.match(JSON.parse(a.body).reason, expected);
  };

  const routes: Route[] = [
    { what: 'API listing', method: 'GET', path: () => '/-/api/images', wrong: is401, limited: is429, right: served },
    { what: 'API image', method: 'GET', path: () => '/-/api/images/localhost/priv/app', wrong: is401, limited: is429, right: served },
    {
      what: 'API delete',
      method: 'DELETE',
      path: () => '/-/api/images/localhost/priv/app/9.9.9/linux/amd64',
      wrong: is401,
      limited: is429,
      right: served,
    },
    {
      what: 'file download',
      method: 'GET',
      path: () => '/-/aci/localhost/priv/app/1.0.0/linux/amd64.aci',
      wrong: is401,
      limited: is429,
      right: served,
    },
    { what: 'metrics', method: 'GET', path: () => '/-/metrics', wrong: is401, limited: is429, right: served },
    {
      what: 'curl push',
      method: 'POST',
      path: () => '/-/push',
      body: '{}',
      wrong: is401,
      limited: is429,
      right: (a) => assert.notEqual(a.status, 429),
    },
    {
      what: 'acpush start',
      method: 'POST',
      path: () => '/-/acpush/start/localhost/team/other/1.0.0/linux/amd64.aci',
      wrong: is401,
      limited: is429,
      right: served,
    },
    {
      what: 'acpush part',
      method: 'PUT',
      path: () => `${sessionPath}/manifest`,
      body: '{}',
      wrong: is401,
      limited: is429,
      right: (a) => assert.ok(![401, 429, 400].includes(a.status), `${a.status} ${a.body}`),
    },
    {
      what: 'acpush completion',
      method: 'POST',
      path: () => `${sessionPath}/complete`,
      body: '{"success":false,"reason":"probe"}',
      wrong: reason(/^TOKEN_/),
      limited: reason(/^AUTH_RATE_LIMITED$/),
      right: reason(/^(?!AUTH_RATE_LIMITED|TOKEN_)/),
    },
    {
      what: 'discovery page',
      method: 'GET',
      path: () => '/priv/app',
      wrong: page,
      limited: page,
      right: page,
    },
  ];

  for (const route of routes) {
    it(`${route.what}: ${ATTEMPTS} wrong tokens, then the limit's answer; the right token elsewhere unaffected`, async () => {
      const guesser = `203.0.113.${++address}`;
      for (let i = 0; i < ATTEMPTS; i++) {
        const a = await send(route, i % 2 ? basic(WRONG) : bearer(WRONG), guesser);
        assertNoInternals(a.body);
        route.wrong(a);
      }
      route.limited(await send(route, bearer(WRONG), guesser));
      route.limited(await send(route, basic(WRONG), guesser));
      // A right guess from the guessing address gets the same answer: nothing to learn.
      route.limited(await send(route, basic(all), guesser));
      // The failures were counted against the address, whatever this route answered.
      is429(await send(routes[0]!, bearer(all), guesser));
      route.right(await send(route, bearer(all), `198.51.100.${address}`));
    });
  }
});
