/**
 * Retention by replicas sharing one S3 bucket (Ceph RGW): two applying at once remove each
 * version once, through the store's conditional writes, and of two replicas whose timers
 * fire in one interval only the one that claims it runs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/load.ts';
import { serializeVersionRecord } from '../../src/registry/catalog/version-record.ts';
import type { AuditEvent } from '../../src/registry/audit-log.ts';
import type { Registry } from '../../src/registry/registry.ts';
import type { RetentionRunSummary } from '../../src/registry/upkeep/retention.ts';
import { createStorage } from '../../src/storage/create-storage.ts';
import { layout } from '../../src/storage/layout.ts';
import { DAY, labels, openRegistryWith, pushedAgo } from '../helpers/retention.ts';
import { s3Env, uniquePrefix, s3Ready } from '../helpers/s3.ts';

// The cluster may still be starting (test/global-setup.ts).
await s3Ready();

const NOW = Date.now();
const NAMES = 6;

describe('retention on one S3 bucket', () => {
  const env = s3Env(uniquePrefix('retention'));
  const records = Array.from({ length: NAMES }, (_, n) =>
    [1, 2, 3, 4, 5].map((v, i) => pushedAgo(`localhost/team/n${n}`, `build-${v}`, (6 - v) * DAY, NOW, 'amd64', n * 10 + i)),
  ).flat();
  const reports: [string, RetentionRunSummary][] = [];
  let a: Registry;
  let b: Registry;

  before(async () => {
    const storage = createStorage(loadConfig({ env: { ...env, ACIHOST_PUBLIC_URL: 'https://localhost:8443' } }));
    for (const r of records) {
      await storage.put(r.blob, Buffer.alloc(16));
      await storage.put(layout.versionRecord(r), serializeVersionRecord(r), { ifAbsent: true });
    }
    await storage.close();
    const seeder = await openRegistryWith(env);
    await seeder.retention.policies.set('localhost/team', { keep: 2, maxAgeSeconds: null, protect: null, graceSeconds: 0 });
    await seeder.close();
    a = await openRegistryWith(env, { onRetention: (s) => reports.push(['a', s]) });
    b = await openRegistryWith(env, { onRetention: (s) => reports.push(['b', s]) });
  });
  after(async () => Promise.all([a?.close(), b?.close()]));

  it('two replicas applying at once remove each planned version once', async () => {
    const plan = await a.retention.plan(undefined, NOW);
    assert.equal(plan.removals.length, NAMES * 3);
    const [ra, rb] = await Promise.all([a.retention.apply(undefined, NOW), b.retention.apply(undefined, NOW)]);
    assert.equal(ra.removed + rb.removed, NAMES * 3);
    assert.deepEqual([ra.gone + rb.gone, ra.failed + rb.failed], [NAMES * 3, 0]);
    const removed = [...labels(ra.removals.map((r) => r.record)), ...labels(rb.removals.map((r) => r.record))].sort();
    assert.deepEqual(removed, labels(plan.removals.map((r) => r.record)), 'together exactly the plan, none twice');
    const events: AuditEvent[] = [];
    for await (const e of a.audit.read()) events.push(e);
    assert.equal(events.length, NAMES * 3, 'one event per version, no refusal');
    assert.ok(events.every((e) => e.action === 'delete' && e.actor === 'retention' && e.result === 'deleted'));
  });

  it('of two replicas firing in one interval, the one that claims it runs', async () => {
    const interval = 3_600_000;
    const slot = NOW - (NOW % interval);
    await Promise.all([a.retention.scheduledRun(interval, slot + 1), b.retention.scheduledRun(interval, slot + 2)]);
    assert.equal(reports.length, 1, 'one run');
    await Promise.all([a.retention.scheduledRun(interval, slot + 3), b.retention.scheduledRun(interval, slot + 4)]);
    assert.equal(reports.length, 1, 'the interval is done');
  });
});
