/**
 * Managing webhook subscriptions: the API under /-/api/webhooks (admin scope, within the
 * token's prefixes, answers checked against the served OpenAPI description), the CLI's
 * `webhook add|list|remove`, subscriptions of the configuration file and their secrets,
 * and the deliveries and metrics an operator watches.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import { readAudit } from '../helpers/audit.ts';
import { createFixture, type Fixture } from '../helpers/fixture.ts';
import { fetchContract, type ApiContract } from '../helpers/openapi.ts';
import { runCli, startTestServer, waitFor } from '../helpers/server.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const SECRET = 'config-secret-0123456789';
// RFC 6761: never resolves, so attempts fail without reaching anyone.
const NOWHERE = 'https://hooks.acihost.invalid/in';

describe('webhook subscriptions over the API and the CLI', () => {
  let f: Fixture;
  let contract: ApiContract;
  let admin: string;
  let teamAdmin: string;
  let pusher: string;

  before(async () => {
    const dir = await tempDir('acihost-webhooks-');
    const secretFile = join(dir, 'ci.secret');
    await writeFile(secretFile, `${SECRET}\n`);
    f = await createFixture({
      config: {
        webhooks: {
          timeoutSeconds: 2,
          subscriptions: [{ name: 'ci', prefix: 'localhost/configured', url: 'https://ci.example.com/hooks', secretFile }],
        },
      },
    });
    contract = await fetchContract(f.server);
    admin = await f.createToken(['--prefix', 'localhost', '--scope', 'admin']);
    teamAdmin = await f.createToken(['--prefix', 'localhost/team', '--scope', 'admin']);
    pusher = await f.createToken(['--prefix', 'localhost', '--scope', 'push', '--scope', 'delete']);
  });
  after(() => f?.close());

  async function api(operationId: string, method: string, path: string, token: string | null, body?: unknown) {
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await f.server.request(path, { method, headers, body: body === undefined ? undefined : Buffer.from(JSON.stringify(body)) });
    contract.check(operationId, res);
    return { status: res.status, headers: res.headers, json: JSON.parse(res.body.toString()) };
  }
  const create = (token: string, body: unknown) => api('createWebhook', 'POST', '/-/api/webhooks', token, body);
  const list = (token: string) => api('listWebhooks', 'GET', '/-/api/webhooks', token);

  it('needs a token with the admin scope', async () => {
    assert.equal((await list('')).status, 401);
    // Authenticated before the body is read: a stranger learns nothing of what a body should be.
    assert.equal((await create('', { colour: 'blue' })).status, 401);
    const res = await list(pusher);
    assert.equal(res.status, 403);
    assert.equal(res.json.error.code, 'TOKEN_SCOPE_MISSING');
    const refused = await create(pusher, { prefix: 'localhost', url: NOWHERE });
    assert.equal(refused.json.error.code, 'TOKEN_SCOPE_MISSING');
  });

  it('makes a subscription, answers its secret once, and lists it without', async () => {
    const made = await create(admin, { prefix: 'localhost/team', url: NOWHERE, events: ['image.published'] });
    assert.equal(made.status, 201, JSON.stringify(made.json));
    assert.equal(made.headers['cache-control'], 'no-store');
    assert.match(made.json.secret, /^[A-Za-z0-9_-]{43}$/);
    const { webhook } = made.json;
    assert.match(webhook.id, /^[0-9a-f]{20}$/);
    assert.deepEqual(
      { ...webhook, id: undefined, createdAt: undefined },
      {
        id: undefined,
        source: 'stored',
        prefix: 'localhost/team',
        url: NOWHERE,
        events: ['image.published'],
        allowHttp: false,
        allowPrivateTarget: false,
        createdAt: undefined,
      },
    );
    const given = await create(admin, { prefix: 'localhost/other', url: NOWHERE, secret: 'a-secret-of-my-own!' });
    assert.equal(given.json.secret, null);
    assert.deepEqual(given.json.webhook.events, ['image.published', 'image.deleted', 'key.added', 'key.retired', 'token.expiring']);
    const all = await list(admin);
    assert.deepEqual(
      all.json.webhooks.map((w: { id: string; source: string }) => w.source),
      ['config', 'stored', 'stored'],
    );
    assert.equal(all.json.webhooks[0].id, 'config-ci');
    assert.ok(!JSON.stringify(all.json).includes('secret'), 'no secret is ever listed');
    // A token for one team sees that team's subscriptions only, and makes none elsewhere.
    assert.deepEqual(
      (await list(teamAdmin)).json.webhooks.map((w: { prefix: string }) => w.prefix),
      ['localhost/team'],
    );
    const elsewhere = await create(teamAdmin, { prefix: 'localhost/other', url: NOWHERE });
    assert.deepEqual([elsewhere.status, elsewhere.json.error.code], [403, 'PREFIX_NOT_ALLOWED']);
  });

  it('refuses a subscription that is not one, with the code that says why', async () => {
    const cases: [unknown, number, string][] = [
      [{ prefix: 'localhost' }, 422, 'WEBHOOK_REQUEST_INVALID'],
      [{ prefix: 'localhost', url: NOWHERE, events: ['image.pushed'] }, 422, 'WEBHOOK_REQUEST_INVALID'],
      [{ prefix: 'localhost', url: NOWHERE, colour: 'blue' }, 422, 'WEBHOOK_REQUEST_INVALID'],
      [{ prefix: 'localhost', url: 'http://ci.example.com/hook' }, 422, 'WEBHOOK_URL_INVALID'],
      [{ prefix: 'localhost', url: 'ftp://ci.example.com/hook' }, 422, 'WEBHOOK_URL_INVALID'],
      [{ prefix: 'localhost', url: 'https://127.0.0.1:9/hook' }, 422, 'WEBHOOK_TARGET_PRIVATE'],
      [{ prefix: 'localhost', url: NOWHERE, allowPrivateTarget: true }, 403, 'WEBHOOK_PRIVATE_TARGET_API'],
      [{ prefix: 'localhost/Team', url: NOWHERE }, 422, 'WEBHOOK_PREFIX_INVALID'],
      [{ prefix: 'example.com/team', url: NOWHERE }, 403, 'PREFIX_NOT_ALLOWED'],
      [{ prefix: 'localhost', url: NOWHERE, secret: 'short' }, 422, 'WEBHOOK_SECRET_INVALID'],
      [{ prefix: 'localhost', url: NOWHERE, secret: 'has spaces in it, sixteen+' }, 422, 'WEBHOOK_SECRET_INVALID'],
    ];
    for (const [body, status, code] of cases) {
      const res = await create(admin, body);
      assert.deepEqual([res.status, res.json.error?.code], [status, code], JSON.stringify(body));
    }
    const plain = await create(admin, { prefix: 'localhost/plain', url: 'http://ci.example.com/hook', allowHttp: true });
    assert.equal(plain.status, 201);
  });

  it('removes a stored subscription, not one of the configuration', async () => {
    const { json } = await create(admin, { prefix: 'localhost/team', url: NOWHERE });
    const id = json.webhook.id;
    assert.equal((await api('deleteWebhook', 'DELETE', `/-/api/webhooks/${id}`, teamAdmin)).json.removed.id, id);
    const again = await api('deleteWebhook', 'DELETE', `/-/api/webhooks/${id}`, admin);
    assert.deepEqual([again.status, again.json.error.code], [404, 'WEBHOOK_NOT_FOUND']);
    const configured = await api('deleteWebhook', 'DELETE', '/-/api/webhooks/config-ci', admin);
    assert.deepEqual([configured.status, configured.json.error.code], [409, 'WEBHOOK_IN_CONFIG']);
    const notYours = await api('deleteWebhook', 'DELETE', '/-/api/webhooks/config-ci', teamAdmin);
    assert.deepEqual([notYours.status, notYours.json.error.code], [404, 'WEBHOOK_NOT_FOUND'], 'as unknown: ids cannot be probed');
    const events = (await readAudit(f.server.storageDir)).filter((e) => e.detail?.subscriptionId === id);
    assert.deepEqual(
      events.map((e) => [e.action, e.result, e.actor]),
      [
        ['webhook.add', 'added', admin.split('_')[1]],
        ['webhook.remove', 'removed', teamAdmin.split('_')[1]],
      ],
    );
  });

  it('shows the deliveries of a subscription and counts their attempts in the metrics', async () => {
    const { json } = await create(admin, { prefix: 'localhost/watched', url: NOWHERE });
    const id = json.webhook.id;
    const deliveries = (query = '') => api('listWebhookDeliveries', 'GET', `/-/api/webhooks/${id}/deliveries${query}`, admin);
    assert.deepEqual((await deliveries()).json, { deliveries: [] });
    assert.equal((await f.push({ name: 'localhost/watched/app', version: '1.0.0' })).status, 201);
    const [d] = await waitFor('a failed attempt', async () => {
      const got = (await deliveries()).json.deliveries;
      return got[0]?.attempts > 0 && got[0].lastAttempts.length > 0 ? got : undefined;
    });
    assert.equal(d.kind, 'image.published');
    assert.equal(d.state, 'pending');
    assert.equal(d.lastAttempts[0].outcome, 'connection_failed');
    assert.match(d.lastAttempts[0].error, /ENOTFOUND/);
    assert.ok(Date.parse(d.nextAttemptAt) > Date.parse(d.lastAttempts[0].at));
    const bad = await deliveries('?limit=0');
    assert.deepEqual([bad.status, bad.json.error.code], [422, 'QUERY_INVALID']);
    const missing = await api('listWebhookDeliveries', 'GET', '/-/api/webhooks/0123456789abcdef0123/deliveries', admin);
    assert.equal(missing.status, 404);
    const metrics = (await f.server.request('/-/metrics')).body.toString();
    assert.match(metrics, /^acihost_webhook_attempts_total\{outcome="connection_failed"\} [1-9]/m);
  });

  describe('acihost webhook', () => {
    it('add prints the id and, once, the secret made; list and remove work on it', async () => {
      const added = await f.server.cli(['webhook', 'add', '--prefix', 'localhost/cli', '--url', NOWHERE, '--event', 'key.added']);
      assert.equal(added.code, 0, added.stderr);
      const [id, secret, rest] = added.stdout.split('\n');
      assert.match(id!, /^[0-9a-f]{20}$/);
      assert.match(secret!, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(rest, '');
      assert.match(added.stderr, /shown only once/);
      const listed = JSON.parse((await f.server.cli(['webhook', 'list', '--json'])).stdout);
      const mine = listed.find((s: { id: string }) => s.id === id);
      assert.deepEqual([mine.prefix, mine.events, mine.source], ['localhost/cli', ['key.added'], 'stored']);
      assert.ok(!JSON.stringify(listed).includes(secret!));
      assert.match((await f.server.cli(['webhook', 'list'])).stdout, new RegExp(`^${id}  localhost/cli  key.added  ${NOWHERE}$`, 'm'));
      assert.equal((await f.server.cli(['webhook', 'remove', id!])).stdout, `removed ${id}\n`);
      assert.ok(!(await f.server.cli(['webhook', 'list'])).stdout.includes(id!));
    });

    it('add signs with a secret file when given one, and prints no secret', async () => {
      const file = join(f.server.dir, 'hook.secret');
      await writeFile(file, 'my-own-secret-0123456789\n');
      const added = await f.server.cli(['webhook', 'add', '--prefix', 'localhost/cli', '--url', NOWHERE, '--secret-file', file]);
      assert.equal(added.code, 0, added.stderr);
      assert.match(added.stdout, /^[0-9a-f]{20}\n$/);
    });

    it('refuses what it cannot add, and what is not its to remove', async () => {
      const usage = await f.server.cli(['webhook', 'add', '--prefix', 'localhost', '--url', NOWHERE, '--event', 'image.pushed']);
      assert.equal(usage.code, 2);
      assert.match(usage.stderr, /unknown event "image.pushed"/);
      assert.equal((await f.server.cli(['webhook', 'add', '--prefix', 'localhost'])).code, 2);
      const local = await f.server.cli(['webhook', 'add', '--prefix', 'localhost', '--url', 'https://127.0.0.1:9/h']);
      assert.equal(local.code, 1);
      assert.match(local.stderr, /\(WEBHOOK_TARGET_PRIVATE\)$/m);
      const allowed = await f.server.cli([
        'webhook',
        'add',
        '--prefix',
        'localhost',
        '--url',
        'https://127.0.0.1:9/h',
        '--allow-private-target',
      ]);
      assert.equal(allowed.code, 0, allowed.stderr);
      const configured = await f.server.cli(['webhook', 'remove', 'config-ci']);
      assert.equal(configured.code, 1);
      assert.match(configured.stderr, /\(WEBHOOK_IN_CONFIG\)$/m);
      const unknown = await f.server.cli(['webhook', 'remove', 'nope']);
      assert.match(unknown.stderr, /\(WEBHOOK_NOT_FOUND\)$/m);
    });
  });
});

describe('webhook subscriptions in the configuration', () => {
  const base = { ACIHOST_PUBLIC_URL: 'https://localhost:8443' };
  const subscription = { name: 'ci', prefix: 'localhost', url: 'https://ci.example.com/h', secretEnv: 'WEBHOOK_CI_SECRET' };

  it('are read from a JSON array in ACIHOST_WEBHOOKS_SUBSCRIPTIONS', () => {
    const config = loadConfig({ env: { ...base, ACIHOST_WEBHOOKS_SUBSCRIPTIONS: JSON.stringify([subscription]) } });
    assert.deepEqual(config.webhooks.subscriptions, [subscription]);
  });

  it('name their secret by a file or a variable, never both, and keep the lease longer than an attempt', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig({ env: { ...base, ...env } });
        return [];
      } catch (e) {
        return (e as ConfigError).problems;
      }
    };
    const both = problems({ ACIHOST_WEBHOOKS_SUBSCRIPTIONS: JSON.stringify([{ ...subscription, secretFile: '/x' }]) });
    assert.match(both.join('\n'), /webhooks\.subscriptions\.0\.secretFile: needs exactly one of secretFile and secretEnv/);
    const ours = problems({ ACIHOST_WEBHOOKS_SUBSCRIPTIONS: JSON.stringify([{ ...subscription, secretEnv: 'ACIHOST_SECRET' }]) });
    assert.match(ours.join('\n'), /secretEnv: must not start with ACIHOST_/);
    assert.match(problems({ ACIHOST_WEBHOOKS_SUBSCRIPTIONS: 'ci' }).join('\n'), /webhooks\.subscriptions: expected list of objects/);
    assert.match(
      problems({ ACIHOST_WEBHOOKS_LEASE_SECONDS: '10' }).join('\n'),
      /webhooks\.leaseSeconds: must be longer than webhooks\.timeoutSeconds/,
    );
  });

  it('stop the server from starting when a secret cannot be read, which check-config says first', async () => {
    const dir = await tempDir('acihost-webhooks-');
    const secretFile = join(dir, 'missing.secret');
    const configFile = join(dir, 'config.json');
    await writeFile(configFile, JSON.stringify({ webhooks: { subscriptions: [{ ...subscription, secretEnv: undefined, secretFile }] } }));
    const checked = await runCli(['check-config', '--json', '--config', configFile], base);
    assert.equal(checked.code, 2);
    assert.deepEqual(JSON.parse(checked.stdout).problems, [`webhooks.subscriptions.0.secretFile: cannot read ${secretFile} (ENOENT)`]);
    await writeFile(secretFile, 'a-secret-of-the-operator\n');
    assert.equal((await runCli(['check-config', '--config', configFile], base)).code, 0);
    await rm(secretFile);
    await assert.rejects(
      startTestServer({ config: { webhooks: { subscriptions: [{ ...subscription, secretEnv: undefined, secretFile }] } } }),
      (e: ConfigError) => {
        assert.equal(e.name, 'ConfigError');
        assert.deepEqual(e.problems, [`webhooks.subscriptions.0.secretFile: cannot read ${secretFile} (ENOENT)`]);
        return true;
      },
    );
  });
});
