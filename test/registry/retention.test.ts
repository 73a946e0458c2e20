/**
 * Retention over a real filesystem storage: each rule alone and together, the most
 * specific prefix winning, the grace period and `latest`, then applying: exactly what was
 * planned goes, each removal through the deleter (tombstone, audit event, journal entry),
 * and two replicas applying at once remove each version once.
 */
import { access, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { VersionRecord } from '../../src/registry/catalog/version-record.ts';
import type { RetentionRules } from '../../src/registry/upkeep/retention-policies.ts';
import type { RetentionRunSummary } from '../../src/registry/upkeep/retention.ts';
import { layout } from '../../src/storage/layout.ts';
import { readAudit } from '../helpers/audit.ts';
import { DAY, labels, openRegistry, pushedAgo, seedVersions } from '../helpers/retention.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const NOW = Date.now();
const HOUR = 3_600_000;
const APP = 'localhost/team/app';
const RELEASE = String.raw`^v?\d+\.\d+\.\d+$`;

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

const rules = (r: Partial<RetentionRules>): RetentionRules => ({ keep: null, maxAgeSeconds: null, protect: null, graceSeconds: 0, ...r });

/** A fresh storage holding `records`, with `policies` set; the registry over it. */
async function site(records: VersionRecord[], policies: Record<string, Partial<RetentionRules>>) {
  const dir = await tempDir('acihost-retention-');
  const storageDir = join(dir, 'storage');
  await seedVersions(storageDir, records);
  const registry = await openRegistry(storageDir);
  for (const [prefix, r] of Object.entries(policies)) await registry.retention.policies.set(prefix, rules(r));
  return { storageDir, registry };
}

/** The versions `policies` would remove among `records`, as `NAME VERSION OS ARCH`. */
async function planned(records: VersionRecord[], policies: Record<string, Partial<RetentionRules>>): Promise<string[]> {
  const { registry } = await site(records, policies);
  try {
    return labels((await registry.retention.plan(undefined, NOW)).removals.map((r) => r.record));
  } finally {
    await registry.close();
  }
}

/** Six builds of APP, `build-6` pushed a day ago and `build-1` six days ago (none is semver: the newest push is latest). */
const builds = (name = APP, arch = 'amd64') => [1, 2, 3, 4, 5, 6].map((n, i) => pushedAgo(name, `build-${n}`, (7 - n) * DAY, NOW, arch, i));
const names = (...versions: string[]) => versions.map((v) => `${APP} ${v} linux amd64`).sort();

describe('retention rules', () => {
  it('keep N: the N most recently pushed versions of each name and os/arch stay', async () => {
    assert.deepEqual(await planned(builds(), { [APP]: { keep: 2 } }), names('build-1', 'build-2', 'build-3', 'build-4'));
  });

  it('keep N counts by push time, not by version order', async () => {
    // 2.0.0 first, then a 1.x hotfix: keep 1 keeps the hotfix (newest push) and 2.0.0 (latest).
    const records = [pushedAgo(APP, '1.0.0', 5 * DAY, NOW), pushedAgo(APP, '2.0.0', 4 * DAY, NOW), pushedAgo(APP, '1.0.1', 3 * DAY, NOW)];
    assert.deepEqual(await planned(records, { [APP]: { keep: 1 } }), names('1.0.0'));
  });

  it('max age: versions pushed longer ago than it go', async () => {
    assert.deepEqual(await planned(builds(), { [APP]: { maxAgeSeconds: (3.5 * DAY) / 1000 } }), names('build-1', 'build-2', 'build-3'));
  });

  it('protect keeps the versions its pattern matches', async () => {
    const records = [
      pushedAgo(APP, '1.0.0', 9 * DAY, NOW),
      pushedAgo(APP, '1.1.0-rc.1', 8 * DAY, NOW),
      pushedAgo(APP, 'v1.1.0', 7 * DAY, NOW),
      pushedAgo(APP, 'nightly-1', 6 * DAY, NOW),
      pushedAgo(APP, 'nightly-2', 5 * DAY, NOW),
    ];
    assert.deepEqual(await planned(records, { [APP]: { keep: 1, protect: RELEASE } }), names('1.1.0-rc.1', 'nightly-1'));
  });

  it('with keep and max age together, a version goes only when neither keeps it', async () => {
    // keep 2 keeps build-6 and build-5; max age 4.5 days keeps build-3 and build-4 as well.
    assert.deepEqual(await planned(builds(), { [APP]: { keep: 2, maxAgeSeconds: (4.5 * DAY) / 1000 } }), names('build-1', 'build-2'));
  });

  it('all rules at once, and a policy without keep or max age removes nothing', async () => {
    const records = [...builds(), pushedAgo(APP, '1.0.0', 30 * DAY, NOW), pushedAgo(APP, 'build-0', 3 * HOUR, NOW)];
    const all = { keep: 3, maxAgeSeconds: (5.5 * DAY) / 1000, protect: RELEASE, graceSeconds: (4 * HOUR) / 1000 };
    // 1.0.0 is protected (and latest); build-0, 6, 5 are the newest three; build-2 to 4 are within 5.5 days.
    assert.deepEqual(await planned(records, { [APP]: all }), names('build-1'));
    assert.deepEqual(await planned(records, { [APP]: { protect: '.*', graceSeconds: 60 } }), []);
  });

  it('grace: a version pushed within it stays whatever the other rules say', async () => {
    const records = [
      pushedAgo(APP, 'b', 3 * DAY, NOW),
      pushedAgo(APP, 'c', 2 * HOUR, NOW),
      pushedAgo(APP, 'd', 1 * HOUR, NOW),
      pushedAgo(APP, 'e', 1000, NOW),
    ];
    assert.deepEqual(await planned(records, { [APP]: { keep: 1 } }), names('b', 'c', 'd'));
    assert.deepEqual(await planned(records, { [APP]: { keep: 1, graceSeconds: (3 * HOUR) / 1000 } }), names('b'));
    assert.deepEqual(await planned(records, { [APP]: { maxAgeSeconds: 1, graceSeconds: (3 * HOUR) / 1000 } }), names('b'));
  });

  it('never removes what latest resolves to, even when it is the oldest push', async () => {
    const records = [
      pushedAgo(APP, '3.0.0', 30 * DAY, NOW),
      pushedAgo(APP, '2.9.0', 20 * DAY, NOW),
      pushedAgo(APP, 'nightly', 10 * DAY, NOW),
    ];
    assert.deepEqual(await planned(records, { [APP]: { maxAgeSeconds: 1 } }), names('2.9.0', 'nightly'));
    assert.deepEqual(await planned([records[0]!], { [APP]: { keep: 1, maxAgeSeconds: 1 } }), []);
  });

  it('judges each os/arch on its own', async () => {
    const records = [...builds(APP, 'amd64'), ...builds(APP, 'aarch64').slice(3)];
    const plan = await planned(records, { [APP]: { keep: 2 } });
    assert.deepEqual(plan, [`${APP} build-4 linux aarch64`, ...names('build-1', 'build-2', 'build-3', 'build-4')].sort());
  });

  it('the most specific policy covering a name applies, prefixes matching whole segments only', async () => {
    const records = [
      ...builds('localhost/team/a'),
      ...builds('localhost/team/app'),
      ...builds('localhost/team/app/sub'),
      ...builds('localhost/team/apple'),
      ...builds('localhost/team/frozen'),
      ...builds('localhost/other'),
    ];
    const plan = await planned(records, {
      'localhost/team': { keep: 5 },
      'localhost/team/app': { keep: 3 },
      'localhost/team/frozen': {},
    });
    const removed = (name: string) => plan.filter((l) => l.startsWith(`${name} `)).length;
    assert.equal(removed('localhost/team/a'), 1, 'localhost/team: keep 5');
    assert.equal(removed('localhost/team/app'), 3, 'its own policy: keep 3');
    assert.equal(removed('localhost/team/app/sub'), 3, 'below localhost/team/app: keep 3');
    assert.equal(removed('localhost/team/apple'), 1, 'not below localhost/team/app: keep 5');
    assert.equal(removed('localhost/team/frozen'), 0, 'a policy without rules shields its prefix');
    assert.equal(removed('localhost/other'), 0, 'no policy covers it');
  });

  it('a plan under a prefix lists only its names, each judged by its own policy', async () => {
    const { registry } = await site([...builds('localhost/team/a'), ...builds('localhost/team/b')], { localhost: { keep: 4 } });
    const plan = await registry.retention.plan('localhost/team/b', NOW);
    assert.deepEqual(labels(plan.removals.map((r) => r.record)), [
      'localhost/team/b build-1 linux amd64',
      'localhost/team/b build-2 linux amd64',
    ]);
    assert.deepEqual(
      plan.removals.map((r) => r.policy),
      ['localhost', 'localhost'],
    );
    assert.equal(plan.bytes, 2 * 2048);
    await registry.close();
  });
});

describe('applying retention', () => {
  it('removes exactly what was planned, each through the deleter, and latest stays', async () => {
    const records = [
      ...builds('localhost/team/a'),
      ...builds('localhost/team/b', 'aarch64'),
      pushedAgo('localhost/keep', 'x', 9 * DAY, NOW),
    ];
    const { storageDir, registry } = await site(records, { 'localhost/team': { keep: 2 } });
    const plan = await registry.retention.plan(undefined, NOW);
    assert.equal(plan.removals.length, 8);
    const result = await registry.retention.apply(undefined, NOW);
    await registry.close();
    assert.deepEqual(labels(result.removals.map((r) => r.record)), labels(plan.removals.map((r) => r.record)));
    assert.deepEqual([result.removed, result.bytes, result.gone, result.failed], [8, plan.bytes, 0, 0]);

    const audit = await readAudit(storageDir);
    for (const { record, policy } of plan.removals) {
      const what = `${record.name} ${record.version} ${record.arch}`;
      assert.ok(!(await exists(join(storageDir, layout.versionRecord(record)))), `${what}: record gone`);
      assert.ok(!(await exists(join(storageDir, record.blob))), `${what}: blob gone`);
      const tombstone = JSON.parse(await readFile(join(storageDir, layout.recordTombstone(record, record.blob)), 'utf8'));
      assert.equal(tombstone.tokenId, 'retention', what);
      const events = audit.filter(
        (e) => e.action === 'delete' && e.name === record.name && e.version === record.version && e.arch === record.arch,
      );
      assert.deepEqual(
        events.map((e) => [e.actor, e.result, e.imageId, e.detail]),
        [['retention', 'deleted', record.imageId, { policy }]],
        what,
      );
    }
    assert.equal(audit.length, 8, 'one event per removal, nothing else');
    assert.equal((await readdir(join(storageDir, 'journal'))).length, 8, 'one journal entry per removal, for other replicas');

    // What stays: the two newest of each name/os/arch, which are also what latest resolves to.
    const fresh = await openRegistry(storageDir);
    const removed = new Set(labels(plan.removals.map((r) => r.record)));
    assert.deepEqual(
      labels(fresh.catalog.records()),
      labels(records).filter((l) => !removed.has(l)),
    );
    assert.equal(fresh.catalog.latest('localhost/team/a', 'linux', 'amd64')?.version, 'build-6');
    assert.equal(fresh.catalog.latest('localhost/team/b', 'linux', 'aarch64')?.version, 'build-6');
    assert.equal((await fresh.retention.plan(undefined, NOW)).removals.length, 0, 'nothing left to remove');
    await fresh.close();
  });

  it('two replicas applying at once remove each version once, and neither reports a refusal', async () => {
    const records = Array.from({ length: 10 }, (_, n) => builds(`localhost/team/n${n}`)).flat();
    const { storageDir, registry: a } = await site(records, { localhost: { keep: 1 } });
    const b = await openRegistry(storageDir);
    const [ra, rb] = await Promise.all([a.retention.apply(undefined, NOW), b.retention.apply(undefined, NOW)]);
    await Promise.all([a.close(), b.close()]);
    assert.equal(ra.removed + rb.removed, 50);
    assert.equal(ra.gone + rb.gone, 50, 'what one removed the other found gone');
    assert.deepEqual([ra.failed, rb.failed], [0, 0]);
    const byA = labels(ra.removals.map((r) => r.record));
    const byB = labels(rb.removals.map((r) => r.record));
    assert.deepEqual(
      byA.filter((l) => byB.includes(l)),
      [],
      'no version removed by both',
    );
    const audit = await readAudit(storageDir);
    assert.equal(audit.length, 50, 'one deleted event per version, no refusal');
    assert.ok(audit.every((e) => e.result === 'deleted' && e.actor === 'retention'));
    assert.equal(new Set(audit.map((e) => `${e.name} ${e.version}`)).size, 50);
  });

  it('on a schedule, one replica does the run of an interval; the next interval runs again', async () => {
    const { storageDir, registry: first } = await site(builds(), { [APP]: { keep: 3 } });
    await first.close();
    const reports: [string, RetentionRunSummary][] = [];
    let collections = 0;
    const afterSweep = () => collections++;
    const a = await openRegistry(storageDir, { onRetention: (s) => reports.push(['a', s]), afterSweep });
    const b = await openRegistry(storageDir, { onRetention: (s) => reports.push(['b', s]), afterSweep });
    const interval = 60_000;
    const slot = NOW - (NOW % interval);
    await Promise.all([a.retention.scheduledRun(interval, slot + 10), b.retention.scheduledRun(interval, slot + 20_000)]);
    assert.equal(reports.length, 1, 'one replica ran');
    assert.deepEqual([reports[0]![1].removed, reports[0]![1].bytes], [3, 3 * 2048]);
    assert.equal(collections, 1, 'the server collects its garbage after a run that removed versions');
    assert.deepEqual(await readdir(join(storageDir, layout.retentionRuns)), [`${String(slot).padStart(13, '0')}.json`]);

    // The replica that ran (the other's index, which no journal poll updates here, still holds what went).
    await (reports[0]![0] === 'a' ? a : b).retention.scheduledRun(interval, slot + interval);
    assert.equal(reports.length, 2, 'the next interval is run');
    assert.deepEqual([reports[1]![1].removed, reports[1]![1].gone], [0, 0], 'with nothing left to do');
    assert.equal(collections, 1, 'nor after one that removed nothing');
    assert.deepEqual(
      await readdir(join(storageDir, layout.retentionRuns)),
      [`${String(slot + interval).padStart(13, '0')}.json`],
      'only the latest claim is kept',
    );
    await Promise.all([a.close(), b.close()]);
  });

  it('leaves a version pushed again since the plan alone', async () => {
    const { storageDir, registry } = await site(builds(), { [APP]: { keep: 5 } });
    const plan = await registry.retention.plan(undefined, NOW);
    assert.deepEqual(labels(plan.removals.map((r) => r.record)), names('build-1'));
    // Meanwhile another replica deleted build-1 and an overwrite push stored it again, with another blob.
    const again = { ...plan.removals[0]!.record, blob: 'blobs/pushed-again.aci', pushedAt: new Date(NOW).toISOString() };
    await seedVersions(storageDir, [again]);
    // This replica's index still holds the old record: its delete finds another blob stored and leaves it.
    const result = await registry.retention.apply(undefined, NOW);
    await registry.close();
    assert.deepEqual([result.removed, result.gone, result.failed], [0, 1, 0]);
    assert.ok(await exists(join(storageDir, layout.versionRecord(again))));
    assert.ok(await exists(join(storageDir, again.blob)));
    assert.deepEqual(await readAudit(storageDir), [], 'nothing was deleted, so nothing is recorded');
  });
});
