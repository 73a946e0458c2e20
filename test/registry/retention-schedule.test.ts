/**
 * What the server does by itself: it applies the retention policies every
 * retention.intervalSeconds (log line, metrics, removals gone from the API), and its sweep
 * prunes the audit log to audit.keepDays whole days.
 */
import { access, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AuditLog } from '../../src/registry/audit-log.ts';
import { FsStorage } from '../../src/storage/fs-storage.ts';
import { layout } from '../../src/storage/layout.ts';
import { DAY, pushedAgo, seedVersions } from '../helpers/retention.ts';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const NOW = Date.now();
const APP = 'localhost/team/app';
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** One audit event stored at `time`, as AuditLog.record writes it. */
async function storeEvent(storageDir: string, time: string, random: string): Promise<void> {
  const dir = join(storageDir, layout.auditDay(time.slice(0, 10)));
  await mkdir(dir, { recursive: true });
  const event = { time, actor: 'seed', action: 'push', name: APP, version: null, os: null, arch: null, imageId: null, result: 'created' };
  await writeFile(join(dir, `${time.replace(/[-:.]/g, '')}-${random}.json`), JSON.stringify({ ...event, code: null, detail: null }) + '\n');
}

describe('scheduled retention and audit pruning in the server', () => {
  let server: TestServer;
  const builds = [1, 2, 3, 4, 5].map((n, i) => pushedAgo(APP, `build-${n}`, (6 - n) * DAY, NOW, 'amd64', i));
  const metrics = async () => (await server.request('/-/metrics')).body.toString();
  const counter = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

  before(async () => {
    const dir = await tempDir('acihost-retention-schedule-');
    const storageDir = join(dir, 'storage');
    await seedVersions(storageDir, builds);
    await storeEvent(storageDir, new Date(NOW - 31 * DAY).toISOString(), 'a1');
    await storeEvent(storageDir, new Date(NOW - 31 * DAY + 1).toISOString(), 'a2');
    await storeEvent(storageDir, new Date(NOW - 29 * DAY).toISOString(), 'b1');
    server = await startTestServer({ dir, logs: true, config: { retention: { intervalSeconds: 1 }, audit: { keepDays: 30 } } });
  });
  after(() => server?.close());

  it('the sweep at start removes the days of the audit log older than audit.keepDays, whole', async () => {
    const auditDir = join(server.storageDir, 'audit');
    await waitFor('the old day pruned', async () => (!(await exists(join(auditDir, dayOf(NOW - 31 * DAY)))) ? true : undefined));
    assert.ok(await exists(join(auditDir, dayOf(NOW - 29 * DAY))), 'a day within keepDays stays');
    const line = await waitFor('the pruning logged', () => server.logs.find((l) => l.msg === 'pruned old days of the audit log'));
    assert.deepEqual([line.days, line.events, line.keepDays], [1, 2, 30]);
  });

  it('applies a policy the CLI sets within an interval, logs it and counts it in /-/metrics', async () => {
    const r = await server.cli(['retention', 'set', '--prefix', 'localhost/team', '--keep', '2']);
    assert.equal(r.code, 0, r.stderr);
    const text = await waitFor('the scheduled run', async () => {
      const t = await metrics();
      return counter(t, 'acihost_retention_removed_versions_total') === 3 ? t : undefined;
    });
    assert.equal(counter(text, 'acihost_retention_freed_bytes_total'), 3 * 2048);
    assert.equal(counter(text, 'acihost_retention_failed_removals_total'), 0);
    assert.ok(counter(text, 'acihost_retention_last_run_timestamp_seconds') > NOW / 1000 - 60);
    const line = server.logs.find((l) => l.msg === 'retention removed versions');
    assert.deepEqual([line?.component, line?.removed, line?.bytes, line?.failed], ['retention', 3, 3 * 2048, 0]);

    const listed = JSON.parse((await server.request(`/-/api/images/${APP}`)).body.toString());
    assert.deepEqual(
      listed.versions.map((v: { version: string; latest: boolean }) => `${v.version}${v.latest ? ' latest' : ''}`),
      ['build-5 latest', 'build-4'],
    );
    for (const r of builds.slice(0, 3)) assert.ok(!(await exists(join(server.storageDir, r.blob))), `${r.version}: blob removed`);
    assert.equal((await readdir(join(server.storageDir, layout.retentionRuns))).length, 1, 'one claim kept');
  });
});

describe('audit log pruning and reading by day', () => {
  it('removes only days whose every event is older than keepDays, and reads from a day on', async () => {
    const storageDir = await tempDir('acihost-audit-prune-');
    for (const day of ['01', '02', '03', '04', '05']) await storeEvent(storageDir, `2026-01-${day}T06:00:00.000Z`, `r${day}`);
    const audit = new AuditLog(new FsStorage(storageDir));
    // Two days before noon on the 5th is noon on the 3rd: the 3rd's 06:00 event is older, but the day is not wholly so.
    assert.deepEqual(await audit.prune(2, Date.parse('2026-01-05T12:00:00Z')), { days: 2, events: 2 });
    assert.deepEqual((await readdir(join(storageDir, 'audit'))).sort(), ['2026-01-03', '2026-01-04', '2026-01-05']);
    assert.deepEqual(await audit.prune(2, Date.parse('2026-01-05T12:00:00Z')), { days: 0, events: 0 });
    const since = [];
    for await (const e of audit.read('2026-01-04')) since.push(e.time);
    assert.deepEqual(since, ['2026-01-04T06:00:00.000Z', '2026-01-05T06:00:00.000Z']);
  });
});
