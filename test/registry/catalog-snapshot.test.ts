/**
 * The index snapshot (src/registry/catalog-snapshot.ts) on a real filesystem storage:
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
import { Registry } from '../../src/registry/registry.ts';
import type { VersionRecord } from '../../src/registry/version-record.ts';
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
    const open = async () => {
      const logs: { msg: string; reason?: string; names?: number }[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line));
          done();
        },
      });
      const registry = new Registry(config, createLogger('info', sink));
      await registry.start();
      return { registry, logs };
    };
    return { storageDir, seed, open, snapshotFile: join(storageDir, layout.indexSnapshot) };
  }

  it('restores the index from the snapshot and the journal; the sweep then finds what a lost entry hid and keeps its blob', async () => {
    const s = await site('restore', { indexSnapshotNames: 1 });
    const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map((n) => versionRecord(`l/app-${n}`));
    await s.seed([a!, b!, c!]);

    const first = await s.open();
    assert.ok(!first.logs.some((l) => l.msg === 'index restored from its snapshot'), 'no snapshot yet: every record read');
    await first.registry.close();
    const written = JSON.parse(await readFile(s.snapshotFile, 'utf8')) as { journalFrom: number; records: VersionRecord[] };
    assert.deepEqual(
      written.records.map((r) => r.name),
      ['l/app-a', 'l/app-b', 'l/app-c'],
    );
    // As if taken five minutes ago: the journal is replayed from then, not from now.
    await writeFile(s.snapshotFile, JSON.stringify({ ...written, journalFrom: written.journalFrom - 5 * 60_000 }));

    // Meanwhile, through another replica: d published and b deleted two minutes ago, each with its
    // journal entry; e published and c deleted with their entries lost.
    const entry = async (op: 'put' | 'delete', r: VersionRecord) => {
      const file = join(s.storageDir, layout.journalEntry(Date.now() - 2 * 60_000, op));
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, JSON.stringify({ op, name: r.name, version: r.version, os: r.os, arch: r.arch }));
    };
    await s.seed([d!, e!]);
    await entry('put', d!);
    await unlink(join(s.storageDir, layout.versionRecord(b!)));
    await entry('delete', b!);
    await unlink(join(s.storageDir, layout.versionRecord(c!)));

    const second = await s.open();
    assert.ok(second.logs.some((l) => l.msg === 'index restored from its snapshot' && l.names === 3));
    assert.ok(second.registry.catalog.has('l/app-d'), 'a publish replayed from the journal');
    assert.ok(!second.registry.catalog.has('l/app-b'), 'a delete replayed from the journal');
    await second.registry.close(); // waits for the sweep that followed the start

    assert.ok(await exists(join(s.storageDir, e!.blob)), 'the blob of a version the snapshot missed is kept');
    assert.ok(!(await exists(join(s.storageDir, c!.blob))), 'the blob of a version deleted behind its back is swept');
    const third = await s.open();
    try {
      assert.ok(third.logs.some((l) => l.msg === 'index restored from its snapshot'));
      assert.deepEqual(
        third.registry.catalog.records().map((r) => r.name),
        ['l/app-a', 'l/app-d', 'l/app-e'],
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
