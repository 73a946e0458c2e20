/**
 * The rules under webhook deliveries, each on its own: which audit events are which kind
 * and concern which subscription, when retries fall, which addresses are private, that a
 * connection goes to the address checked under the URL's name, and that each step of a
 * delivery in storage has one winner.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { join } from 'node:path';
import type { AuditEvent } from '../../src/registry/audit-log.ts';
import { eventTime, nextAttemptAt } from '../../src/registry/webhooks/deliverer.ts';
import { DeliveryRecords, type AttemptRecord } from '../../src/registry/webhooks/delivery-records.ts';
import { concerns, kindOf } from '../../src/registry/webhooks/kinds.ts';
import { Sender, signatureHeader } from '../../src/registry/webhooks/sender.ts';
import { checkedLookup, isPrivateAddress, type Resolve } from '../../src/registry/webhooks/target.ts';
import { CheckedStorage } from '../../src/storage/checked-storage.ts';
import { FsStorage } from '../../src/storage/fs-storage.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { startReceiver } from '../helpers/webhook-receiver.ts';

const event = (e: Partial<AuditEvent>): AuditEvent => ({
  time: '2026-11-23T18:17:00.123Z',
  actor: null,
  action: 'push',
  name: null,
  version: null,
  os: null,
  arch: null,
  imageId: null,
  result: 'created',
  code: null,
  detail: null,
  ...e,
});

describe('webhook rules', () => {
  it('maps audit events to kinds: what succeeded, and token.expiring by its name', () => {
    const cases: [Partial<AuditEvent>, string | undefined][] = [
      [{ action: 'push', result: 'created' }, 'image.published'],
      [{ action: 'push', result: 'unchanged' }, undefined],
      [{ action: 'push', result: 'refused' }, undefined],
      [{ action: 'delete', result: 'deleted' }, 'image.deleted'],
      [{ action: 'key.add', result: 'added' }, 'key.added'],
      [{ action: 'key.retire', result: 'retired' }, 'key.retired'],
      [{ action: 'key.remove', result: 'removed' }, undefined],
      [{ action: 'token.create', result: 'created' }, undefined],
      [{ action: 'token.expiring' as AuditEvent['action'], result: 'added' }, 'token.expiring'],
    ];
    for (const [e, kind] of cases) assert.equal(kindOf(event(e)), kind, JSON.stringify(e));
  });

  it('tells a subscription of images under its prefix, and of keys and tokens whose prefixes overlap it', () => {
    const image = event({ name: 'localhost/team/app' });
    assert.equal(concerns('localhost/team', 'image.published', image), true);
    assert.equal(concerns('localhost', 'image.published', image), true);
    assert.equal(concerns('localhost/tea', 'image.published', image), false);
    assert.equal(concerns('localhost/team/app/sub', 'image.published', image), false);
    const key = event({ action: 'key.retire', result: 'retired', detail: { fingerprint: 'f', prefixes: ['localhost/team'] } });
    assert.equal(concerns('localhost/team/app', 'key.retired', key), true, 'the key signs images under the subscription');
    assert.equal(concerns('localhost', 'key.retired', key), true, 'a key under the subscription');
    assert.equal(concerns('localhost/other', 'key.retired', key), false);
    assert.equal(concerns('localhost', 'key.retired', event({ action: 'key.retire', detail: { fingerprint: 'f' } })), false);
    const token = event({ action: 'token.expiring' as AuditEvent['action'], detail: { prefixes: ['localhost/ci', 7] } });
    assert.equal(concerns('localhost/ci/app', 'token.expiring', token), true);
  });

  it('retries 1 s, 2 s, 4 s... after each failure, at most an hour apart, within the retry window', () => {
    const day = 86_400_000;
    assert.deepEqual(
      [1, 2, 3, 4, 12, 13, 30].map((n) => nextAttemptAt(n, 0, 1000, day)! - 1000),
      [1000, 2000, 4000, 8000, 2_048_000, 3_600_000, 3_600_000],
    );
    assert.equal(nextAttemptAt(5, 0, day - 2000, day), day, 'the last attempt is at the end of the window');
    assert.equal(nextAttemptAt(5, 0, day, day), null);
    assert.equal(eventTime('20261123T181700123Z-0a1b2c3d4e5f'), Date.parse('2026-11-23T18:17:00.123Z'));
  });

  it('signs t, a dot and the body with HMAC-SHA256', () => {
    // printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac secret-0123456789
    assert.equal(
      signatureHeader('secret-0123456789', Buffer.from('{"a":1}'), 1_700_000_000),
      't=1700000000,v1=692511b180bbcd561410894fd2bedac27a99690e45169490ea808f433b5d0097',
    );
  });

  it('knows the private ranges, IPv4 in IPv6 included', () => {
    const privateOnes = ['127.0.0.1', '127.9.9.9', '10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '0.0.0.0'];
    const v6 = ['::1', '::', 'fc00::1', 'fd12:3456::1', 'fe80::1', '::ffff:127.0.0.1', '::FFFF:10.0.0.1'];
    for (const a of [...privateOnes, ...v6]) assert.equal(isPrivateAddress(a), true, a);
    for (const a of ['172.32.0.1', '8.8.8.8', '100.64.0.1', '2001:4860:4860::8888', '::ffff:8.8.8.8'])
      assert.equal(isPrivateAddress(a), false, a);
    assert.equal(isPrivateAddress('not-an-address'), true, 'what is not an address is not let through');
  });

  it('checks every address a name resolves to, and hands the socket only those', async () => {
    const resolveTo =
      (...addresses: string[]): Resolve =>
      (_host, _options, callback) =>
        callback(
          null,
          addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
        );
    const look = (allow: boolean, resolve: Resolve, all: boolean) =>
      new Promise<{ err: Error | null; found: unknown }>((done) =>
        checkedLookup(allow, resolve)(
          'hooks.example',
          { all } as never,
          ((err: Error | null, found: unknown) => done({ err, found })) as never,
        ),
      );
    const mixed = resolveTo('93.184.216.34', '10.1.2.3');
    const refused = await look(false, mixed, true);
    assert.match(String(refused.err), /hooks\.example resolves to 10\.1\.2\.3/);
    assert.deepEqual((await look(true, mixed, true)).found, [
      { address: '93.184.216.34', family: 4 },
      { address: '10.1.2.3', family: 4 },
    ] satisfies LookupAddress[]);
    assert.equal((await look(false, resolveTo('93.184.216.34'), false)).found, '93.184.216.34');
  });

  it('connects to the address checked, with the URL name for TLS and Host', async () => {
    const receiver = await startReceiver({ hosts: ['hooks.example'] });
    receiver.secrets.set('/in', 'secret-0123456789');
    // The name is resolved only by the check's resolver: nothing else knows it.
    const resolve: Resolve = (host, _o, callback) => callback(null, host === 'hooks.example' ? [{ address: '127.0.0.1', family: 4 }] : []);
    const sender = new Sender({ timeoutMs: 2000, extraCa: [receiver.caPem], userAgent: 'test', resolve });
    try {
      const delivery = {
        url: `https://hooks.example:${receiver.port}/in`,
        secret: 'secret-0123456789',
        eventId: 'e',
        kind: 'image.published',
        body: Buffer.from('{}'),
      };
      const refused = await sender.send({ ...delivery, policy: { allowHttp: false, allowPrivateTarget: false } });
      assert.deepEqual([refused.outcome, receiver.received.length], ['target_refused', 0]);
      const sent = await sender.send({ ...delivery, policy: { allowHttp: false, allowPrivateTarget: true } });
      assert.equal(sent.outcome, 'delivered', String(sent.error));
      assert.equal(receiver.received[0]!.headers.host, `hooks.example:${receiver.port}`);
      assert.equal(receiver.received[0]!.verified, true);
    } finally {
      sender.close();
      await receiver.close();
    }
  });

  it('gives each step of a delivery in storage one winner', async () => {
    const records = new DeliveryRecords(new CheckedStorage(new FsStorage(join(await tempDir('acihost-records-'), 'storage'))));
    const body = Buffer.from('{"kind":"image.published"}');
    const id = '20261123T181700123Z-0a1b2c3d4e5f';
    const once = async (step: () => Promise<boolean>) => (await Promise.all(Array.from({ length: 8 }, step))).filter(Boolean).length;
    assert.equal(await once(() => records.open('s', id, body)), 1);
    assert.equal(await once(() => records.take('s', id, body)), 1);
    const claim = { attempt: 1, at: 'now', by: 'a/1', leaseUntil: 'later' };
    assert.equal(await once(() => records.claim('s', id, claim)), 1);
    const result = (outcome: AttemptRecord['outcome']): AttemptRecord => ({
      attempt: 1,
      at: 'now',
      by: 'b/2',
      outcome,
      status: null,
      error: null,
      durationMs: null,
      nextAt: 'soon',
      final: null,
    });
    // A takeover records the attempt lost: the replica that made it can then record nothing.
    assert.equal(await records.record('s', id, result('lost')), true);
    assert.equal(await records.record('s', id, result('delivered')), false);
    const state = await records.state('s', id);
    assert.deepEqual([state.attempts, state.claim?.by, state.result?.outcome, state.body?.toString()], [1, 'a/1', 'lost', body.toString()]);
  });
});
