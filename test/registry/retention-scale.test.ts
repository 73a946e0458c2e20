/**
 * Retention over a catalogue of 10,000 versions on the filesystem: the plan equals a
 * reference worked out here another way (every rule read straight from its definition,
 * per version, with no sorting), applying removes exactly the planned versions, and
 * afterwards every name and os/arch still resolves `latest` to the same stored version.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { VersionRecord } from '../../src/registry/catalog/version-record.ts';
import type { Registry } from '../../src/registry/registry.ts';
import type { RetentionRules } from '../../src/registry/upkeep/retention-policies.ts';
import { layout } from '../../src/storage/layout.ts';
import { seedRecords, versionRecord } from '../helpers/records.ts';
import { DAY, labels, openRegistry } from '../helpers/retention.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const VERSIONS = 10_000;
const NOW = Date.parse('2026-06-01T00:00:00Z');
const RELEASE = String.raw`^v?\d+\.\d+\.\d+$`;

type Policy = RetentionRules & { prefix: string };
const rules = (prefix: string, r: Partial<RetentionRules>): Policy => ({
  prefix,
  keep: null,
  maxAgeSeconds: null,
  protect: null,
  graceSeconds: 0,
  ...r,
});
const POLICIES: Policy[] = [
  rules('localhost', { maxAgeSeconds: 180 * 86400 }),
  rules('localhost/t0', { keep: 5 }),
  rules('localhost/t1', { keep: 3, maxAgeSeconds: 60 * 86400, protect: RELEASE }),
  rules('localhost/t1/a1', {}),
  rules('localhost/t2', { keep: 2, graceSeconds: 60 * 86400 }),
  rules('localhost/t3/a2', { keep: 1, protect: '^v' }),
  rules('localhost/t3/a2/s1', { maxAgeSeconds: 10 * 86400, graceSeconds: 30 * 86400 }),
];

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 10,000 versions over names at several depths, two os/arch, versions of every kind, pushed over 400 days. */
function catalogue(): VersionRecord[] {
  const rnd = random(20260601);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const names: string[] = [];
  for (let t = 0; t < 6; t++)
    for (let a = 0; a < 8; a++) {
      names.push(`localhost/t${t}/a${a}`);
      for (let s = 0; s < 3; s++) names.push(`localhost/t${t}/a${a}/s${s}`);
    }
  const records: VersionRecord[] = [];
  const used = new Set<string>();
  while (records.length < VERSIONS) {
    const name = pick(names);
    const arch = pick(['amd64', 'aarch64']);
    const n = records.length;
    const version = pick([
      () => `${Math.floor(rnd() * 4)}.${Math.floor(rnd() * 20)}.${Math.floor(rnd() * 50)}`,
      () => `v${Math.floor(rnd() * 4)}.${Math.floor(rnd() * 20)}.${Math.floor(rnd() * 50)}`,
      () => `${Math.floor(rnd() * 4)}.${Math.floor(rnd() * 20)}.0-rc.${Math.floor(rnd() * 9)}`,
      () => `build-${n}`,
    ])();
    if (used.has(`${name} ${arch} ${version}`)) continue;
    used.add(`${name} ${arch} ${version}`);
    // Distinct push times (ties are ordered by version, a rule the reference leaves aside).
    const pushedAt = new Date(NOW - Math.floor(rnd() * 400 * DAY) - n).toISOString();
    records.push(versionRecord(name, { version, arch, pushedAt, size: 1000 + Math.floor(rnd() * 1_000_000) }, n));
  }
  return records;
}

/** What the policies remove, read from their definitions one version at a time. */
function reference(records: VersionRecord[], latest: Set<string>): string[] {
  const groups = new Map<string, VersionRecord[]>();
  for (const r of records) {
    const key = `${r.name} ${r.os} ${r.arch}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const since = (seconds: number) => new Date(NOW - seconds * 1000).toISOString();
  const removed: string[] = [];
  for (const r of records) {
    const covering = POLICIES.filter((p) => r.name === p.prefix || r.name.startsWith(`${p.prefix}/`));
    if (covering.length === 0) continue;
    const policy = covering.reduce((a, b) => (b.prefix.length > a.prefix.length ? b : a));
    if (policy.keep === null && policy.maxAgeSeconds === null) continue;
    const pushedLater = groups.get(`${r.name} ${r.os} ${r.arch}`)!.filter((o) => o.pushedAt > r.pushedAt).length;
    const keptBy = [
      latest.has(labels([r])[0]!),
      r.pushedAt > since(policy.graceSeconds),
      policy.protect !== null && new RegExp(policy.protect).test(r.version),
      policy.keep !== null && pushedLater < policy.keep,
      policy.maxAgeSeconds !== null && r.pushedAt >= since(policy.maxAgeSeconds),
    ];
    if (!keptBy.includes(true)) removed.push(labels([r])[0]!);
  }
  return removed.sort();
}

/** What `latest` resolves to for each name and os/arch, as `NAME VERSION OS ARCH`. */
function latestOf(registry: Registry): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of registry.catalog.records()) {
    const latest = registry.catalog.latest(r.name, r.os, r.arch)!;
    out.set(`${r.name} ${r.os} ${r.arch}`, labels([latest])[0]!);
  }
  return out;
}

describe('retention over 10,000 versions', () => {
  let storageDir: string;
  let registry: Registry;
  let records: VersionRecord[];
  let expected: string[];
  let latestBefore: Map<string, string>;

  before(async () => {
    storageDir = join(await tempDir('acihost-retention-scale-'), 'storage');
    records = catalogue();
    await seedRecords(storageDir, records);
    registry = await openRegistry(storageDir);
    for (const { prefix, ...r } of POLICIES) await registry.retention.policies.set(prefix, r);
    latestBefore = latestOf(registry);
    expected = reference(records, new Set(latestBefore.values()));
  });

  it('plans what the reference removes, with the bytes they hold', async (t) => {
    assert.equal(registry.catalog.records().length, VERSIONS);
    const started = performance.now();
    const plan = await registry.retention.plan(undefined, NOW);
    t.diagnostic(`plan of ${VERSIONS} versions: ${(performance.now() - started).toFixed(0)} ms, ${plan.removals.length} to remove`);
    assert.deepEqual(labels(plan.removals.map((r) => r.record)), expected);
    const sizes = new Map(records.map((r) => [labels([r])[0]!, r.size]));
    assert.equal(
      plan.bytes,
      expected.reduce((sum, l) => sum + sizes.get(l)!, 0),
    );
    // The catalogue exercises every rule: some of everything is removed, and much is kept.
    assert.ok(expected.length > VERSIONS / 5 && expected.length < (VERSIONS * 4) / 5, `${expected.length} removed`);
    for (const p of ['localhost/t0/', 'localhost/t1/a0', 'localhost/t2/', 'localhost/t3/a2 ', 'localhost/t3/a2/s1', 'localhost/t4/'])
      assert.ok(
        expected.some((l) => l.startsWith(p)),
        `something removed under ${p}`,
      );
    assert.ok(!expected.some((l) => l.startsWith('localhost/t1/a1')), 'the shielded prefix keeps everything');
  });

  it('applies exactly the plan, and latest still resolves to the same stored version everywhere', async (t) => {
    const started = performance.now();
    const result = await registry.retention.apply(undefined, NOW);
    t.diagnostic(`apply: ${result.removed} removed in ${(performance.now() - started).toFixed(0)} ms`);
    assert.deepEqual([result.gone, result.failed], [0, 0]);
    assert.deepEqual(labels(result.removals.map((r) => r.record)), expected);
    await registry.close();

    const reopened = await openRegistry(storageDir);
    const gone = new Set(expected);
    assert.deepEqual(
      labels(reopened.catalog.records()),
      labels(records).filter((l) => !gone.has(l)),
    );
    assert.deepEqual(latestOf(reopened), latestBefore, 'every name and os/arch kept its latest');
    for (const label of latestBefore.values()) {
      const [name, version, os, arch] = label.split(' ') as [string, string, string, string];
      await access(join(storageDir, layout.versionRecord({ name, version, os, arch })));
    }
    assert.equal((await reopened.retention.plan(undefined, NOW)).removals.length, 0, 'a second run finds nothing');
    await reopened.close();
  });
});
