/** The catalogue queries behind the page for people and the API: segment-aligned ranges, offsets, cursors, removal. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AuditLog } from '../../src/registry/audit-log.ts';
import { Catalog } from '../../src/registry/catalog/catalog.ts';
import { FsStorage } from '../../src/storage/fs-storage.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { versionRecord } from '../helpers/records.ts';
import { tempDir } from '../helpers/temp-dir.ts';

async function catalogOf(names: string[]): Promise<Catalog> {
  const catalog = new Catalog(new FsStorage(await tempDir('acihost-cat-')));
  for (const n of names) catalog.add(versionRecord(n));
  return catalog;
}

describe('catalogue queries for pages and the API', () => {
  // '-' and '.' sort before '/', so team-x and team.x sit between team and team/...
  const NAMES = ['l/team', 'l/team-x', 'l/team.x', 'l/team/a', 'l/team/b', 'l/team/b/c', 'l/teamz', 'l/u'];

  it('counts and pages the names strictly below a name, segment-aligned', async () => {
    const c = await catalogOf(NAMES);
    assert.equal(c.countBelow('l/team'), 3);
    assert.deepEqual(c.namesBelowFrom('l/team', 0, 2), ['l/team/a', 'l/team/b']);
    assert.deepEqual(c.namesBelowFrom('l/team', 2, 2), ['l/team/b/c']);
    assert.deepEqual(c.namesBelowFrom('l/team', 3, 2), []);
    assert.equal(c.countBelow('l'), NAMES.length);
  });

  it('lists a prefix and the names below it after a cursor, never a sibling that merely shares letters', async () => {
    const c = await catalogOf(NAMES);
    assert.deepEqual(c.namesCovered('l/team', undefined, 10), ['l/team', 'l/team/a', 'l/team/b', 'l/team/b/c']);
    assert.deepEqual(c.namesCovered('l/team', undefined, 2), ['l/team', 'l/team/a']);
    assert.deepEqual(c.namesCovered('l/team', 'l/team/a', 10), ['l/team/b', 'l/team/b/c']);
    assert.deepEqual(c.namesCovered('l/team', 'l/team', 1), ['l/team/a']);
    assert.deepEqual(c.namesCovered('l/tea', undefined, 10), []);
  });

  it('removes versions, the name with its last one, and moves latest', async () => {
    const c = await catalogOf([]);
    for (const v of ['1.0.0', '2.0.0']) c.add(versionRecord('l/app', { version: v }));
    c.add(versionRecord('l/app', { version: '2.0.0', arch: 'aarch64' }));
    const generation = c.generation;
    assert.ok(c.remove({ name: 'l/app', version: '2.0.0', os: 'linux', arch: 'amd64' }));
    assert.ok(c.generation > generation);
    assert.equal(c.latest('l/app', 'linux', 'amd64')?.version, '1.0.0');
    assert.deepEqual(
      c.versionsOf('l/app').map((r) => `${r.version}/${r.arch}`),
      ['2.0.0/aarch64', '1.0.0/amd64'],
    );
    assert.equal(c.remove({ name: 'l/app', version: '9.9.9', os: 'linux', arch: 'amd64' }), false);
    c.remove({ name: 'l/app', version: '1.0.0', os: 'linux', arch: 'amd64' });
    c.remove({ name: 'l/app', version: '2.0.0', os: 'linux', arch: 'aarch64' });
    assert.equal(c.has('l/app'), false);
    assert.equal(c.size, 0);
  });
});

describe('audit log writes', () => {
  it('reports a failed write without failing the action it records', async () => {
    const inner = new FsStorage(await tempDir('acihost-audit-'));
    const failing: Storage = Object.assign(Object.create(inner) as Storage, {
      put: async () => {
        throw new Error('store away');
      },
    });
    const errors: unknown[] = [];
    const log = new AuditLog(failing, (e) => errors.push(e));
    const event = await log.record({ action: 'delete', result: 'deleted', name: 'l/app' });
    assert.equal(event.name, 'l/app');
    assert.equal(errors.length, 1);
  });

  it('keeps two events of one millisecond apart, and reads from a given day on', async () => {
    const log = new AuditLog(new FsStorage(await tempDir('acihost-audit-')));
    const at = new Date('2026-11-23T10:00:00.000Z');
    await log.record({ action: 'push', result: 'created', version: '1' }, at);
    await log.record({ action: 'push', result: 'created', version: '2' }, at);
    await log.record({ action: 'push', result: 'created', version: '3' }, new Date('2026-11-24T00:00:00.000Z'));
    const all = [];
    for await (const e of log.read()) all.push(e.version);
    assert.deepEqual(all.sort(), ['1', '2', '3']);
    const later = [];
    for await (const e of log.read('2026-11-24')) later.push(e.version);
    assert.deepEqual(later, ['3']);
  });
});
