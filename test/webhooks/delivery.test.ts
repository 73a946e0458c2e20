/**
 * Webhook deliveries from a registry in this process to a real HTTPS receiver with a CA
 * of its own (lent to the registry as the server would get it from NODE_EXTRA_CA_CERTS):
 * what is sent and how it is signed, how fast, retries after a 500, silence and a refused
 * connection, the private-target rule at delivery time, and that the verification
 * docs/operations.md gives receivers (shell with openssl, and Node) works on a real delivery.
 */
import { execFile } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promisify } from 'node:util';
import { createLogger } from '../../src/logger.ts';
import type { AuditEvent } from '../../src/registry/audit-log.ts';
import { Registry, registrySettings } from '../../src/registry/registry.ts';
import { isPrivateAddress } from '../../src/registry/webhooks/target.ts';
import type { AttemptReport } from '../../src/registry/webhooks/webhooks.ts';
import { signatureHeader } from '../../src/registry/webhooks/sender.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { DeliveryRecords } from '../../src/registry/webhooks/delivery-records.ts';
import { CheckedStorage } from '../../src/storage/checked-storage.ts';
import { FsStorage } from '../../src/storage/fs-storage.ts';
import type { PutOptions, Storage } from '../../src/storage/storage.ts';
import { buildTestApp, type TestApp } from '../helpers/app.ts';
import { freePort, waitFor } from '../helpers/server.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { httpsRequest } from '../helpers/tls.ts';
import { startReceiver, TOLERANCE_SECONDS, type Receiver, type Received } from '../helpers/webhook-receiver.ts';

const run = promisify(execFile);
const DOC = new URL('../../docs/operations.md', import.meta.url);

const WEBHOOKS = { retryForSeconds: 120, timeoutSeconds: 1, leaseSeconds: 3, subscriptions: [] };

/** The first fenced block of `lang` in the section of docs/operations.md under `heading`. */
async function documented(heading: string, lang: string): Promise<string> {
  const doc = await readFile(DOC, 'utf8');
  const at = doc.indexOf(`\n${heading}\n`);
  assert.ok(at >= 0, `docs/operations.md has no ${heading}`);
  const block = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(doc.slice(at));
  assert.ok(block, `no ${lang} block under ${heading}`);
  return block[1]!;
}

describe('webhook deliveries', () => {
  let receiver: Receiver;
  let t: TestApp;
  const reports: AttemptReport[] = [];
  let n = 0;

  before(async () => {
    receiver = await startReceiver();
    t = await buildTestApp({
      config: { webhooks: WEBHOOKS },
      hooks: { webhookCa: [receiver.caPem], onWebhookAttempt: (r) => reports.push(r) },
    });
  });
  after(async () => {
    await t?.close();
    await receiver?.close();
  });

  /** A subscription of its own under localhost/<team> to a path of its own on the receiver. */
  async function subscribe(team: string, extra: { url?: string; allowPrivateTarget?: boolean } = {}) {
    const path = `/hooks/${team}`;
    const { subscription, secret } = await t.registry.webhooks.add(
      {
        prefix: `localhost/${team}`,
        url: extra.url ?? receiver.origin + path,
        events: [],
        allowHttp: false,
        allowPrivateTarget: extra.allowPrivateTarget ?? true,
      },
      'test',
      'cli',
    );
    receiver.secrets.set(path, secret!);
    return { subscription, secret: secret!, path };
  }

  const publish = async (name: string) => {
    const res = await t.publish({ name, version: `1.0.${++n}` });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res;
  };

  /** Another registry on `storage`, as a replica or the CLI would have it (started only by the test). */
  const replicaOn = (storage: Storage, webhooks: Config['webhooks'] = WEBHOOKS) => {
    const config = loadConfig({ env: { ACIHOST_PUBLIC_URL: t.origin, ACIHOST_LOG_LEVEL: 'silent' } });
    return new Registry(storage, { ...registrySettings(config), webhooks }, createLogger('silent'), {
      webhookCa: [receiver.caPem],
    });
  };

  const acceptedOn = (path: string) => [...receiver.accepted().values()].flat().filter((r) => r.path === path);

  it('delivers a push within 5 s: signed, the audit event with its id and kind', async () => {
    const { path } = await subscribe('signed');
    const pushed = Date.now();
    await publish('localhost/signed/app');
    const [got] = await waitFor('the delivery', () => acceptedOn(path)[0] && acceptedOn(path), 5000);
    assert.ok(got!.at - pushed < 5000, `${got!.at - pushed} ms`);
    const body = JSON.parse(got!.body.toString());
    assert.equal(got!.headers['content-type'], 'application/json');
    assert.equal(got!.headers['x-acihost-event'], 'image.published');
    assert.equal(got!.headers['x-acihost-delivery'], body.id);
    assert.equal(body.kind, 'image.published');
    const audited: AuditEvent[] = [];
    for await (const e of t.registry.audit.read()) audited.push(e);
    const event = audited.find((e) => e.action === 'push' && e.name === 'localhost/signed/app');
    const { id, kind, ...rest } = body;
    assert.deepEqual(rest, event);
    assert.match(id, /^\d{8}T\d{9}Z-[0-9a-f]{12}$/);
    assert.deepEqual(Object.keys(body).slice(0, 2), ['id', 'kind']);
  });

  it('tells a subscription only of names under its prefix, segment-aligned', async () => {
    const { path } = await subscribe('narrow');
    await publish('localhost/narrowx/app');
    await publish('localhost/narrow/app');
    await waitFor('the delivery', () => acceptedOn(path).length === 1 || undefined, 5000);
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(
      acceptedOn(path).map((r) => JSON.parse(r.body.toString()).name),
      ['localhost/narrow/app'],
    );
  });

  it('delivers key and token events to the subscriptions their prefixes overlap', async () => {
    const { path } = await subscribe('keys');
    // As `acihost key retire` and the server's token expiry notice record them.
    await t.registry.audit.record({
      actor: 'cli:ops',
      action: 'key.retire',
      result: 'retired',
      detail: { fingerprint: 'f', prefixes: ['localhost'] },
    });
    await t.registry.audit.record({
      actor: null,
      action: 'token.expiring',
      result: 'expiring',
      detail: { tokenId: 'x', prefixes: ['localhost/keys/ci'] },
    });
    await t.registry.audit.record({
      actor: 'cli:ops',
      action: 'key.add',
      result: 'added',
      name: 'localhost/other',
      detail: { prefixes: ['localhost/other'] },
    });
    const kinds = await waitFor('both deliveries', () => {
      const got = acceptedOn(path).map((r) => r.headers['x-acihost-event']);
      return got.length === 2 ? got.sort() : undefined;
    });
    assert.deepEqual(kinds, ['key.retired', 'token.expiring']);
    const expiring = JSON.parse(
      acceptedOn(path)
        .find((r) => r.headers['x-acihost-event'] === 'token.expiring')!
        .body.toString(),
    );
    assert.deepEqual([expiring.action, expiring.detail.tokenId], ['token.expiring', 'x']);
  });

  it('retries after a 500, signing each attempt anew, and shows the attempts', async () => {
    const { subscription, path } = await subscribe('flaky');
    receiver.plan = (_id, k, r) => (r.path === path && k === 1 ? 500 : 200);
    await publish('localhost/flaky/app');
    const [got] = await waitFor('the retry', () => acceptedOn(path)[0] && acceptedOn(path), 8000);
    const tries = receiver.received.filter((r) => r.path === path);
    assert.deepEqual(
      tries.map((r) => [r.verified, r.status]),
      [
        [true, 500],
        [true, 200],
      ],
    );
    assert.notEqual(tries[0]!.headers['x-acihost-signature'], tries[1]!.headers['x-acihost-signature']);
    assert.ok(got!.at - tries[0]!.at >= 900, 'the first retry waits a second');
    const [delivery] = await waitFor('the recorded result', async () => {
      const d = await t.registry.webhooks.deliveries(subscription.id, 10);
      return d[0]?.state === 'delivered' ? d : undefined;
    });
    assert.equal(delivery!.attempts, 2);
    assert.deepEqual(
      delivery!.lastAttempts.map((a) => [a.outcome, a.status]),
      [
        ['http_error', 500],
        ['delivered', 200],
      ],
    );
    assert.equal(delivery!.eventId, got!.headers['x-acihost-delivery']);
    assert.equal(delivery!.nextAttemptAt, null);
  });

  it('times out an endpoint that does not answer, and retries', async () => {
    const { subscription, path } = await subscribe('silent');
    receiver.plan = (_id, k, r) => (r.path === path && k === 1 ? 'hang' : 200);
    await publish('localhost/silent/app');
    await waitFor('the retry', () => acceptedOn(path)[0], 10_000);
    const [delivery] = await waitFor('the recorded result', async () => {
      const d = await t.registry.webhooks.deliveries(subscription.id, 10);
      return d[0]?.state === 'delivered' ? d : undefined;
    });
    assert.deepEqual(
      delivery!.lastAttempts.map((a) => a.outcome),
      ['timeout', 'delivered'],
    );
  });

  it('retries a refused connection, and a certificate of an unknown CA, until the endpoint is right', async () => {
    const port = await freePort();
    const { subscription } = await subscribe('late', { url: `https://localhost:${port}/hooks/late` });
    const attempts = async () => (await t.registry.webhooks.deliveries(subscription.id, 1))[0]?.lastAttempts ?? [];
    await publish('localhost/late/app');
    await waitFor('a refused connection', async () => (await attempts())[0]);
    assert.equal((await attempts())[0]!.outcome, 'connection_failed');
    assert.match((await attempts())[0]!.error!, /ECONNREFUSED/);
    const impostor = await startReceiver({ port });
    impostor.secrets.set('/hooks/late', receiver.secrets.get('/hooks/late')!);
    try {
      const refused = await waitFor('a certificate refused', async () =>
        (await attempts()).find((a) => /certificate/i.test(a.error ?? '')),
      );
      assert.equal(refused.outcome, 'connection_failed');
    } finally {
      await impostor.close();
    }
    assert.equal(impostor.received.length, 0, 'nothing is sent over an unverified connection');
    const late = await startReceiver({ port, tls: receiver.tls });
    late.secrets.set('/hooks/late', receiver.secrets.get('/hooks/late')!);
    try {
      await waitFor('the delivery once it listens', () => late.accepted().size === 1 || undefined, 20_000);
    } finally {
      await late.close();
    }
  });

  it('refuses, at delivery, a name that resolves to this machine when private targets are not allowed', async (ctx) => {
    const name = hostname();
    const { address } = await lookup(name).catch(() => ({ address: '' }));
    if (!address || !isPrivateAddress(address)) return ctx.skip(`${name} does not resolve to a private address here`);
    const path = '/hooks/rebound';
    const { subscription } = await subscribe('rebound', { url: `https://${name}:${receiver.port}${path}`, allowPrivateTarget: false });
    await publish('localhost/rebound/app');
    const [delivery] = await waitFor('the refused attempt', async () => {
      const d = await t.registry.webhooks.deliveries(subscription.id, 1);
      return d[0]?.lastAttempts[0] ? d : undefined;
    });
    assert.equal(delivery!.lastAttempts[0]!.outcome, 'target_refused');
    assert.match(delivery!.lastAttempts[0]!.error!, new RegExp(`${name} resolves to ${address.replace(/\./g, '\\.')}`));
    assert.equal(receiver.received.filter((r) => r.path === path).length, 0, 'nothing was sent');
    assert.ok(reports.some((r) => r.outcome === 'target_refused'));
  });

  it('refuses to subscribe plain http, and this machine or a private address without the operator allowing it', async () => {
    const add = (url: string, allow: { allowHttp?: boolean; allowPrivateTarget?: boolean } = {}, front: 'cli' | 'api' = 'cli') =>
      t.registry.webhooks.add(
        {
          prefix: 'localhost',
          url,
          events: [],
          allowHttp: allow.allowHttp ?? false,
          allowPrivateTarget: allow.allowPrivateTarget ?? false,
        },
        'test',
        front,
      );
    await assert.rejects(add('http://ci.example.com/hook'), { code: 'WEBHOOK_URL_INVALID' });
    await assert.rejects(add('https://user:pw@ci.example.com/hook'), { code: 'WEBHOOK_URL_INVALID' });
    for (const url of [
      'https://127.0.0.1/h',
      'https://localhost/h',
      'https://[::1]/h',
      'https://10.1.2.3/h',
      'https://169.254.169.254/h',
    ]) {
      await assert.rejects(add(url), { code: 'WEBHOOK_TARGET_PRIVATE' }, url);
    }
    await assert.rejects(add('https://127.0.0.1/h', { allowPrivateTarget: true }, 'api'), { code: 'WEBHOOK_PRIVATE_TARGET_API' });
    assert.equal((await add('http://127.0.0.1/h', { allowHttp: true, allowPrivateTarget: true })).subscription.allowHttp, true);
  });

  describe('what receivers are told to check (docs/operations.md#webhooks)', () => {
    let got: Received;
    let secret: string;
    let dir: string;

    before(async () => {
      const sub = await subscribe('verify');
      secret = sub.secret;
      receiver.plan = () => 200;
      await publish('localhost/verify/app');
      got = await waitFor('the delivery', () => acceptedOn(sub.path)[0], 5000);
      dir = t.dir;
    });

    async function shell(body: Buffer, signature: string): Promise<string> {
      await writeFile(join(dir, 'body.json'), body);
      const { stdout } = await run('sh', ['-c', await documented('### Verifying a delivery', 'sh')], {
        cwd: dir,
        env: { ...process.env, SIG: signature, SECRET: secret },
      }).catch((e: { stdout: string }) => e);
      return stdout.trim();
    }

    async function node(body: Buffer, signature: string): Promise<string> {
      const script = [
        "import { createHmac, timingSafeEqual } from 'node:crypto';",
        'const signatureHeader = process.env.SIG;',
        'const secret = process.env.SECRET;',
        "const rawBody = Buffer.from(process.env.BODY, 'base64');",
        await documented('### Verifying a delivery', 'js'),
        'console.log(verified);',
      ].join('\n');
      const env = { ...process.env, SIG: signature, SECRET: secret, BODY: body.toString('base64') };
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env });
      return stdout.trim();
    }

    it('the three lines of shell verify a real delivery, and refuse it changed', async () => {
      const signature = String(got.headers['x-acihost-signature']);
      assert.equal(await shell(got.body, signature), 'verified');
      const changed = Buffer.from(got.body.toString().replace('"localhost/verify/app"', '"localhost/verify/ap"'));
      assert.equal(await shell(changed, signature), '');
      assert.equal(
        await shell(
          got.body,
          signature.replace(/v1=./, (m) => (m.endsWith('0') ? 'v1=1' : 'v1=0')),
        ),
        '',
      );
    });

    it('the three lines of Node verify a real delivery, and refuse it changed or stale', async () => {
      const signature = String(got.headers['x-acihost-signature']);
      assert.equal(await node(got.body, signature), 'true');
      assert.equal(await node(Buffer.concat([got.body, Buffer.from(' ')]), signature), 'false');
      const stale = signatureHeader(secret, got.body, Math.floor(Date.now() / 1000) - TOLERANCE_SECONDS - 1);
      assert.equal(await node(got.body, stale), 'false');
      assert.equal(await shell(got.body, stale), '');
    });

    it('a replayed delivery is refused by a receiver that keeps the signatures it accepted', async () => {
      const headers = Object.fromEntries(
        ['content-type', 'x-acihost-event', 'x-acihost-delivery', 'x-acihost-signature'].map((h) => [h, String(got.headers[h])]),
      );
      const res = await httpsRequest(receiver.origin + got.path, { ca: receiver.caPem, method: 'POST', headers, body: got.body });
      assert.equal(res.status, 401);
      assert.equal(res.body.toString(), 'replayed signature');
    });
  });

  it('a replica slow to take up what it opened leaves it to the replica whose scan came first', async () => {
    const dir = join(await tempDir('acihost-webhook-race-'), 'storage');
    const { path, subscription } = await subscribe('race');
    let open = false;
    receiver.plan = (_id, _k, r) => (r.path === path && !open ? 500 : 200);
    const fs = () => new CheckedStorage(new FsStorage(dir));
    const inner = fs();
    // Its take-up lands after the other replica's scan, which leaves a new event to its opener for
    // three seconds and then comes every second, has taken the event up.
    const slowTakes: Storage = Object.assign(Object.create(inner) as Storage, {
      put: async (key: string, body: Buffer, options?: PutOptions) => {
        if (key.endsWith('/event.json')) await new Promise((r) => setTimeout(r, 5000));
        return inner.put(key, body, options);
      },
    });
    const fast = replicaOn(fs());
    const slow = replicaOn(slowTakes);
    await fast.start();
    await slow.start();
    // The same subscription in this storage.
    await fs().put(
      `webhooks/subscriptions/${subscription.id}.json`,
      (await t.storage.get(`webhooks/subscriptions/${subscription.id}.json`))!,
    );
    await new Promise((r) => setTimeout(r, 100));
    await slow.audit.record({ actor: 'test', action: 'push', name: 'localhost/race/app', result: 'created' });
    await waitFor('a failed attempt', () => receiver.received.find((r) => r.path === path));
    await new Promise((r) => setTimeout(r, 5000));
    await fast.close();
    await slow.close();
    // A replica started now finds the delivery still open, and makes the next attempt.
    open = true;
    const fresh = replicaOn(fs());
    await fresh.start();
    try {
      await waitFor('the delivery', () => acceptedOn(path)[0], 10_000);
    } finally {
      await fresh.close();
    }
  });

  it('tells a subscription of the configuration what happens from its first start on, servers down or not', async () => {
    const dir = await tempDir('acihost-webhook-since-');
    const path = '/hooks/since';
    const secret = 'since-secret-0123456789';
    receiver.secrets.set(path, secret);
    await writeFile(join(dir, 'since.secret'), secret);
    const subscription = { name: 'since', prefix: 'localhost/since', url: receiver.origin + path, secretFile: join(dir, 'since.secret') };
    const webhooks = { ...WEBHOOKS, subscriptions: [{ ...subscription, allowPrivateTarget: true }] };
    const fs = () => new CheckedStorage(new FsStorage(join(dir, 'storage')));
    const cli = replicaOn(fs());
    const record = (name: string, registry = cli, at = new Date()) =>
      registry.audit.record({ actor: 'test', action: 'push', name: `localhost/since/${name}`, result: 'created' }, at);
    const delivered = () => acceptedOn(path).map((r) => JSON.parse(r.body.toString()).name as string);
    // Replicas read the log up to five minutes ago, then had no subscription; then an event.
    await new DeliveryRecords(fs()).writeCursor(Date.now() - 300_000);
    await record('before', cli, new Date(Date.now() - 60_000));
    const first = replicaOn(fs(), webhooks);
    await first.start();
    await record('after', first);
    await waitFor('the event after its first start', () => delivered().includes('localhost/since/after') || undefined);
    await first.close();
    await record('while-down');
    const second = replicaOn(fs(), webhooks);
    await second.start();
    try {
      await waitFor('the event while no server ran', () => delivered().includes('localhost/since/while-down') || undefined);
      await new Promise((r) => setTimeout(r, 1500));
      assert.deepEqual(delivered().sort(), ['localhost/since/after', 'localhost/since/while-down']);
    } finally {
      await second.close();
      await cli.close();
    }
  });

  it('loses nothing across a restart: a failing delivery and an event recorded while stopped are both delivered', async () => {
    const { subscription, path } = await subscribe('restart');
    let open = false;
    receiver.plan = (_id, _k, r) => (r.path === path && !open ? 503 : 200);
    await publish('localhost/restart/app');
    await waitFor('a failed attempt', async () => (await t.registry.webhooks.deliveries(subscription.id, 1))[0]?.lastAttempts[0]);
    await t.app.close();
    await t.registry.close();
    // What `acihost key add` records while no server runs.
    const cli = replicaOn(new CheckedStorage(new FsStorage(t.storageDir)));
    await cli.audit.record({
      actor: 'cli:test',
      action: 'key.add',
      name: 'localhost/restart',
      result: 'added',
      detail: { prefixes: ['localhost/restart'] },
    });
    await cli.close();
    open = true;
    const restarted = replicaOn(new CheckedStorage(new FsStorage(t.storageDir)));
    await restarted.start();
    try {
      const kinds = await waitFor('both deliveries', () => {
        const got = acceptedOn(path).map((r) => r.headers['x-acihost-event']);
        return got.length === 2 ? got.sort() : undefined;
      });
      assert.deepEqual(kinds, ['image.published', 'key.added']);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(acceptedOn(path).length, 2, 'each once');
    } finally {
      await restarted.close();
    }
  });
});
