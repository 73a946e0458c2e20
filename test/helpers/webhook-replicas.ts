/**
 * Three `acihost serve` processes on one storage, subscribed (in their configuration) to a
 * real HTTPS receiver whose CA they trust through NODE_EXTRA_CA_CERTS: every event is
 * delivered once by the three together, and a replica killed while its attempt hangs is
 * taken over once its lease has run out. Run over the filesystem (test/webhooks/) and over
 * S3 (test/s3/).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Storage } from '../../src/storage/storage.ts';
import { layout } from '../../src/storage/layout.ts';
import { buildAci } from './aci-builder.ts';
import { createGpg, type Gpg, type GpgKey } from './gpg.ts';
import { curlPush } from './push.ts';
import { serverSetup, spawnServer, waitFor, type ServerProcess, type ServerSetup } from './server.ts';
import { tempDir } from './temp-dir.ts';
import { httpsRequest } from './tls.ts';
import { startReceiver, type Receiver, type Received } from './webhook-receiver.ts';

export interface ReplicaStorage {
  /** What points each replica at the shared storage. */
  env: Record<string, string>;
  /** The same storage, for the test to read the claims in. */
  storage: Storage;
}

const SECRET = 'fleet-secret-0123456789abcdef';
const LEASE_SECONDS = 4;
const SUBSCRIPTION = 'config-fleet';

const nameOf = (r: Received): string | null => JSON.parse(r.body.toString()).name;

export function webhookReplicaTests(label: string, open: () => Promise<ReplicaStorage>): void {
  describe(`webhooks from three replicas on ${label}`, () => {
    let shared: ReplicaStorage;
    let receiver: Receiver;
    let setups: ServerSetup[];
    let replicas: (ServerProcess | undefined)[];
    let gpg: Gpg;
    let key: GpgKey;
    let token: string;
    let admin: string;
    let dir: string;
    let n = 0;

    before(async () => {
      shared = await open();
      dir = await tempDir('acihost-webhook-replicas-');
      receiver = await startReceiver();
      receiver.secrets.set('/fleet', SECRET);
      const caFile = join(dir, 'receiver-ca.pem');
      const secretFile = join(dir, 'fleet.secret');
      await writeFile(caFile, receiver.caPem);
      await writeFile(secretFile, SECRET);
      const config = {
        webhooks: {
          retryForSeconds: 120,
          timeoutSeconds: 2,
          leaseSeconds: LEASE_SECONDS,
          subscriptions: [
            {
              name: 'fleet',
              prefix: 'localhost',
              url: `${receiver.origin}/fleet`,
              events: ['image.published', 'key.added'],
              secretFile,
              allowPrivateTarget: true,
            },
          ],
        },
      };
      const certsDir = join(dir, 'certs');
      setups = await Promise.all(
        [0, 1, 2].map(() => serverSetup({ config, certsDir, env: { ...shared.env, NODE_EXTRA_CA_CERTS: caFile } })),
      );
      gpg = await createGpg();
      key = await gpg.genKey({ algo: 'rsa2048', uid: 'ci <ci@localhost>' });
      replicas = [];
      // One after the other: the first makes the development CA the others use.
      for (const setup of setups) replicas.push(await spawnServer(setup));
      // Recorded by the CLI, with the servers running: no replica is told of it but by reading the log.
      const keyFile = join(dir, 'key.asc');
      await writeFile(keyFile, await gpg.exportPublic(key.fingerprint));
      const added = await setups[0]!.cli(['key', 'add', '--prefix', 'localhost', keyFile]);
      assert.equal(added.code, 0, added.stderr);
      token = (await setups[1]!.cli(['token', 'create', '--prefix', 'localhost'])).stdout.split('\n')[0]!;
      admin = (await setups[2]!.cli(['token', 'create', '--prefix', 'localhost', '--scope', 'admin'])).stdout.split('\n')[0]!;
    });
    after(async () => {
      for (const r of replicas ?? []) await r?.stop();
      await receiver?.close();
      await gpg?.cleanup();
      await shared?.storage.close();
    });

    async function push(name: string, via: number): Promise<number> {
      const aci = join(dir, `fleet-${++n}.aci`);
      await writeFile(aci, await buildAci({ name, version: '1.0.0' }));
      const asc = await gpg.signFile(aci, key.fingerprint);
      const s = setups[via]!;
      const res = await curlPush({ origin: s.origin, caFile: s.caFile, token, aci, asc });
      assert.equal(res.status, 201, res.raw);
      return Date.now();
    }

    const requestsFor = (id: string) => receiver.received.filter((r) => r.headers['x-acihost-delivery'] === id);

    it('delivers every event once, whichever replica recorded it (the CLI included), within 5 s', async () => {
      const names = Array.from({ length: 9 }, (_, i) => `localhost/fleet/app${i}`);
      const pushedAt = new Map(await Promise.all(names.map(async (name, i) => [name, await push(name, i % 3)] as const)));
      const accepted = await waitFor('every delivery', () => {
        const got = [...receiver.accepted().values()].flat();
        return got.length >= names.length + 1 ? got : undefined;
      });
      // Time for a second delivery of anything to show.
      await new Promise((r) => setTimeout(r, 3000));
      const byId = receiver.accepted();
      assert.equal(byId.size, names.length + 1);
      for (const [id, got] of byId) {
        assert.equal(got.length, 1, `${nameOf(got[0]!)}: accepted ${got.length} times`);
        assert.equal(requestsFor(id).length, 1, `${nameOf(got[0]!)}: sent ${requestsFor(id).length} times`);
      }
      assert.deepEqual(accepted.map((r) => r.headers['x-acihost-event']).sort(), [...names.map(() => 'image.published'), 'key.added']);
      for (const r of accepted.filter((a) => a.headers['x-acihost-event'] === 'image.published')) {
        const delay = r.at - pushedAt.get(nameOf(r)!)!;
        assert.ok(delay < 5000, `${nameOf(r)} delivered ${delay} ms after its push`);
      }
    });

    it('a replica killed mid-attempt is taken over after its lease, and the event delivered once', async () => {
      let killed: number | undefined;
      let claimer: string | undefined;
      receiver.plan = (_id, k, r) => (nameOf(r) === 'localhost/fleet/victim' && k === 1 ? 'hang' : 200);
      receiver.onRequest = (r) => {
        if (nameOf(r) !== 'localhost/fleet/victim' || claimer !== undefined) return;
        const id = String(r.headers['x-acihost-delivery']);
        claimer = 'reading';
        // The claim is written before the request is sent: it names the process making the attempt.
        void shared.storage.get(`${layout.webhookDelivery(SUBSCRIPTION, id)}0001-claim.json`).then((bytes) => {
          claimer = JSON.parse(bytes!.toString()).by as string;
          const pid = Number(claimer.split('/').pop());
          killed = replicas.findIndex((p) => p?.child.pid === pid);
          replicas[killed]!.child.kill('SIGKILL');
        });
      };
      await push('localhost/fleet/victim', 0);
      const [got] = await waitFor(
        'the delivery after the takeover',
        () => {
          const ok = [...receiver.accepted().values()].flat().filter((r) => nameOf(r) === 'localhost/fleet/victim');
          return ok.length > 0 ? ok : undefined;
        },
        20_000,
      );
      assert.ok(killed !== undefined && killed >= 0, `the claimer ${claimer} was one of the replicas`);
      await replicas[killed]!.exited;
      replicas[killed] = undefined;
      const id = String(got!.headers['x-acihost-delivery']);
      const tries = requestsFor(id);
      assert.deepEqual(
        tries.map((r) => r.status),
        [null, 200],
      );
      assert.ok(tries[1]!.at - tries[0]!.at >= (LEASE_SECONDS - 1) * 1000, 'taken over once the lease ran out');
      // What the survivors show: attempt 1 lost by the killed replica, attempt 2 made by another.
      const survivor = setups[replicas.findIndex((r) => r !== undefined)]!;
      const shown = await waitFor('the recorded delivery', async () => {
        const res = await httpsRequest(`${survivor.origin}/-/api/webhooks/${SUBSCRIPTION}/deliveries?limit=100`, {
          ca: await readFile(survivor.caFile),
          headers: { authorization: `Bearer ${admin}` },
        });
        const d = JSON.parse(res.body.toString()).deliveries.find((x: { eventId: string }) => x.eventId === id);
        return d?.state === 'delivered' ? d : undefined;
      });
      assert.deepEqual(
        shown.lastAttempts.map((a: { outcome: string }) => a.outcome),
        ['lost', 'delivered'],
      );
      assert.ok(shown.lastAttempts[0].error.includes(claimer!), shown.lastAttempts[0].error);
      assert.notEqual(shown.lastAttempts[1].by, claimer);
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal(receiver.accepted().get(id)!.length, 1);
      assert.equal(requestsFor(id).length, 2, 'no attempt besides the lost one and the one that delivered');
      // The other two carry on.
      const pushedAt = await push(
        'localhost/fleet/after',
        replicas.findIndex((r) => r !== undefined),
      );
      const after = await waitFor('a delivery after the kill', () =>
        [...receiver.accepted().values()].flat().find((r) => nameOf(r) === 'localhost/fleet/after'),
      );
      assert.ok(after.at - pushedAt < 5000);
    });
  });
}
