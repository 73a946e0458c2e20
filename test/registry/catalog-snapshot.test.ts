/**
 * The index snapshot (src/registry/catalog/catalog-snapshot.ts) on a real filesystem storage:
 * a restart restores the index from it and the change journal since, the sweep that
 * follows reconciles what a lost journal entry hid (never deleting a blob that a record
 * references), and a snapshot that is too old or unreadable is not used.
 */
import { access, mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/logger.ts';
import { Registry, registrySettings } from '../../src/registry/registry.ts';
import { Catalog } from '../../src/registry/catalog/catalog.ts';
import { ChangeJournal } from '../../src/registry/catalog/change-journal.ts';
import { createStorage } from '../../src/storage/create-storage.ts';
import { FsStorage } from '../../src/storage/fs-storage.ts';
import type { VersionRecord } from '../../src/registry/catalog/version-record.ts';
import { layout } from '../../src/storage/layout.ts';
import { seedRecords, versionRecord } from '../helpers/records.ts';

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

describe('the index snapshot', () => {
  let root: string;
  before(async () => (root = await mkdtemp(join(tmpdir(), 'acihost-snapshot-'))));
  after(() => rm(root, { recursive: true, force: true }));

  /** A storage directory and a way to open registries on it, with their log lines. */
  async function site(name: string, storage: Record<string, unknown>) {
    const dir = join(root, name);
    await mkdir(dir, { recursive: true });
    const configFile = join(dir, 'config.json');
    await writeFile(configFile, JSON.stringify({ storage: { sweepGraceSeconds: 0, ...storage } }));
    const config = loadConfig({ env: { ACIHOST_STORAGE_DIR: join(dir, 'storage') }, file: configFile });
    const storageDir = join(dir, 'storage');
    const seed = async (records: VersionRecord[]) => {
      await seedRecords(storageDir, records);
      for (const r of records) {
        await mkdir(dirname(join(storageDir, r.blob)), { recursive: true });
        await writeFile(join(storageDir, r.blob), `bytes of ${r.name}`);
      }
    };
    const open = async (afterSweep?: () => void) => {
      const logs: { msg: string; reason?: string; names?: number }[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line));
          done();
        },
      });
      const registry = new Registry(createStorage(config), registrySettings(config), createLogger('info', sink), { afterSweep });
      await registry.start();
      return { registry, logs };
    };
    return { storageDir, seed, open, snapshotFile: join(storageDir, layout.indexSnapshot) };
  }

  it('restores the index from the snapshot and the journal; the sweep then reads every record and keeps every referenced blob', async () => {
    const s = await site('restore', { indexSnapshotNames: 1 });
    const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map((n) => versionRecord(`l/app-${n}`));
    // x and y are deleted and pushed again (overwrite) while the replica is down: same key, new blob.
    const [x1, y1] = ['x', 'y'].map((n) => versionRecord(`l/app-${n}`, {}, 1));
    const [x2, y2] = ['x', 'y'].map((n) => versionRecord(`l/app-${n}`, { pushedAt: new Date().toISOString() }, 2));
    await s.seed([a!, b!, c!, x1!, y1!]);

    const first = await s.open();
    assert.ok(!first.logs.some((l) => l.msg === 'index restored from its snapshot'), 'no snapshot yet: every record read');
    await first.registry.sweep();
    await first.registry.close();
    const written = JSON.parse(await readFile(s.snapshotFile, 'utf8')) as { journalFrom: number; records: VersionRecord[] };
    assert.deepEqual(
      written.records.map((r) => r.name),
      ['l/app-a', 'l/app-b', 'l/app-c', 'l/app-x', 'l/app-y'],
    );
    // As if taken five minutes ago: the journal is replayed from then, not from now.
    await writeFile(s.snapshotFile, JSON.stringify({ ...written, journalFrom: written.journalFrom - 5 * 60_000 }));

    // Meanwhile, through another replica, two minutes ago: d published, b deleted and x pushed again,
    // each with its journal entries; e published, c deleted and y pushed again with their entries lost.
    const entry = async (op: 'put' | 'delete', r: VersionRecord) => {
      const file = join(s.storageDir, layout.journalEntry(Date.now() - 2 * 60_000, `${op}-${r.name.slice(-1)}`));
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, JSON.stringify({ op, name: r.name, version: r.version, os: r.os, arch: r.arch }));
    };
    await s.seed([d!, e!, x2!, y2!]);
    await entry('put', d!);
    await unlink(join(s.storageDir, layout.versionRecord(b!)));
    await entry('delete', b!);
    await entry('delete', x1!);
    await entry('put', x2!);
    await unlink(join(s.storageDir, layout.versionRecord(c!)));

    const second = await s.open();
    assert.ok(second.logs.some((l) => l.msg === 'index restored from its snapshot' && l.names === 5));
    const blobOf = (name: string) => second.registry.catalog.latest(name, 'linux', 'amd64')?.blob;
    assert.ok(second.registry.catalog.has('l/app-d'), 'a publish replayed from the journal');
    assert.ok(!second.registry.catalog.has('l/app-b'), 'a delete replayed from the journal');
    assert.equal(blobOf('l/app-x'), x2!.blob, 'a version pushed again, replayed from the journal');
    await second.registry.sweep(); // the one that followed the start, under way
    assert.equal(blobOf('l/app-y'), y2!.blob, 'a version pushed again without journal entries, found by the sweep');
    await second.registry.close();

    for (const kept of [a, d, e, x2, y2]) assert.ok(await exists(join(s.storageDir, kept!.blob)), `the blob of ${kept!.blob} is kept`);
    for (const gone of [b, c, x1, y1]) assert.ok(!(await exists(join(s.storageDir, gone!.blob))), `${gone!.blob}, unreferenced, is swept`);
    const third = await s.open();
    try {
      assert.ok(third.logs.some((l) => l.msg === 'index restored from its snapshot'));
      assert.deepEqual(
        third.registry.catalog.records().map((r) => r.blob),
        [a, d, e, x2, y2].map((r) => r!.blob),
        'the sweep wrote the reconciled index',
      );
    } finally {
      await third.registry.close();
    }
  });

  it('is not used when older than the journal reaches back, or unreadable: every record is read instead', async () => {
    const s = await site('unusable', { indexSnapshotNames: 1 });
    await s.seed([versionRecord('l/kept')]);
    await mkdir(dirname(s.snapshotFile), { recursive: true });
    const cases: [string, string][] = [
      [JSON.stringify({ format: 1, journalFrom: 0, records: [versionRecord('l/stale')] }), 'older than the change journal reaches back'],
      ['{"format":1,"journalFrom"', 'not JSON'],
      [JSON.stringify({ format: 2, journalFrom: Date.now(), records: [] }), 'not a snapshot of the index'],
    ];
    for (const [body, reason] of cases) {
      await writeFile(s.snapshotFile, body);
      const { registry, logs } = await s.open();
      try {
        assert.ok(
          logs.some((l) => l.msg === 'index snapshot not used: reading every record' && l.reason?.startsWith(reason)),
          JSON.stringify(logs),
        );
        assert.deepEqual(
          registry.catalog.records().map((r) => r.name),
          ['l/kept'],
        );
      } finally {
        await registry.close();
      }
    }
  });

  it('stays current on a quiet registry: a poll that finds nothing still moves the journal time forward', async () => {
    const s = await site('quiet', { indexSnapshotNames: 1 });
    await s.seed([versionRecord('l/quiet')]);
    const storage = new FsStorage(s.storageDir);
    const journal = new ChangeJournal(storage, new Catalog(storage), createLogger('silent'));
    journal.resumeFrom(Date.now());
    await new Promise((r) => setTimeout(r, 1500));
    const polledAt = Date.now();
    await journal.poll();
    // Ten seconds back for clocks that differ between replicas (change-journal.ts), no more.
    assert.ok(journal.appliedUpTo >= polledAt - 10_000, `${polledAt - journal.appliedUpTo} ms behind`);
  });

  it('hands its garbage back after every sweep: the first after a start, restored or not, and each later one', async () => {
    const s = await site('after-sweep', { indexSnapshotNames: 1 });
    await s.seed([versionRecord('l/one'), versionRecord('l/two')]);
    for (const restored of [false, true]) {
      let sweeps = 0;
      const { registry, logs } = await s.open(() => sweeps++);
      for (const deadline = Date.now() + 5000; sweeps === 0 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 10));
      assert.equal(sweeps, 1, 'once the first sweep (and its snapshot) after the start is done');
      assert.equal(
        logs.some((l) => l.msg === 'index restored from its snapshot'),
        restored,
      );
      await registry.sweep();
      assert.equal(sweeps, 2);
      await registry.close();
    }
  });

  it('is not written below storage.indexSnapshotNames, nor when set to 0', async () => {
    for (const [name, indexSnapshotNames] of [
      ['below', 3],
      ['off', 0],
    ] as const) {
      const s = await site(name, { indexSnapshotNames });
      await s.seed([versionRecord('l/one'), versionRecord('l/two')]);
      const { registry } = await s.open();
      await registry.sweep();
      await registry.close();
      assert.ok(!(await exists(s.snapshotFile)), name);
    }
  });
});
