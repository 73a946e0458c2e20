/** The rehearsal storage behind `acihost import --dry-run`, over a real filesystem store. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CheckedStorage } from '../../src/storage/checked-storage.ts';
import { DryRunStorage } from '../../src/storage/dry-run-storage.ts';
import { FsStorage } from '../../src/storage/fs-storage.ts';
import { KeyExistsError, KeyNotFoundError, type Storage } from '../../src/storage/storage.ts';
import { storageSnapshot, storedKeys } from '../helpers/storage-snapshot.ts';
import { storageConformance } from './conformance.ts';

async function keys(s: Storage, prefix: string, startAfter?: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of s.list(prefix, { startAfter })) out.push(o.key);
  return out;
}

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

// The contract as a rehearsal keeps it: what it holds is its own view, and the real store
// (empty to start with) holds only the staging objects that view shows.
storageConformance(
  'dry run over a filesystem, checked',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'acihost-dry-'));
    const dry = new DryRunStorage(new FsStorage(dir));
    return {
      // Checked outside, so that the view can be listed whole from the root below.
      storage: new CheckedStorage(dry),
      async everything() {
        const view = await keys(dry, '');
        assert.deepEqual(
          await storedKeys(dir),
          view.filter((k) => k.startsWith('tmp/')),
          'the real store holds staging only',
        );
        return view;
      },
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
  { promotedBytesDropped: true },
);

describe('DryRunStorage', () => {
  let dir: string;
  let base: Storage;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'acihost-dry-'));
    base = new CheckedStorage(new FsStorage(dir));
    await base.put('keys/b.json', Buffer.from('B'));
    await base.put('keys/d.json', Buffer.from('D'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('reads the real objects, and keeps its own writes and deletes in memory, merged in key order', async () => {
    const before = await storageSnapshot(dir);
    const dry = new DryRunStorage(base);
    assert.equal((await dry.get('keys/b.json'))!.toString(), 'B');
    await dry.put('keys/a.json', Buffer.from('A'));
    await dry.put('keys/c.json', Readable.from([Buffer.from('C')]));
    await dry.put('keys/b.json', Buffer.from('B2'));
    await dry.delete('keys/d.json');
    assert.deepEqual(await keys(dry, 'keys/'), ['keys/a.json', 'keys/b.json', 'keys/c.json']);
    assert.deepEqual(await keys(dry, 'keys/', 'keys/a.json'), ['keys/b.json', 'keys/c.json']);
    assert.equal(await text(await dry.read('keys/b.json')), 'B2');
    assert.equal(await dry.stat('keys/d.json'), null);
    await assert.rejects(dry.read('keys/d.json'), KeyNotFoundError);
    await assert.rejects(dry.put('keys/a.json', Buffer.from('x'), { ifAbsent: true }), KeyExistsError);
    assert.deepEqual(await storageSnapshot(dir), before, 'the real store is untouched');
  });

  it('stages on the real store, and drops promoted bytes instead of holding them', async () => {
    const dry = new DryRunStorage(base);
    await dry.put('tmp/uploads/x.aci', Buffer.from('image bytes'));
    assert.ok(await base.stat('tmp/uploads/x.aci'), 'staging goes to the real store');
    await dry.promote('tmp/uploads/x.aci', 'blobs/x.aci');
    assert.equal(await base.stat('tmp/uploads/x.aci'), null, 'the staged object is cleaned up');
    assert.equal(await base.stat('blobs/x.aci'), null);
    assert.equal((await dry.stat('blobs/x.aci'))!.size, 11);
    await assert.rejects(dry.read('blobs/x.aci'), /a dry run keeps no image bytes/);
    await assert.rejects(dry.promote('tmp/uploads/none.aci', 'blobs/y.aci'), KeyNotFoundError);
  });
});
