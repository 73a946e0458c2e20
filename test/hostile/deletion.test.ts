/**
 * Deletes that race: each other, an overwrite push of the same version, and a
 * re-push followed by another delete. Exactly one delete of a record wins and is
 * recorded; the store never holds a record without its blob or a blob without
 * its record.
 */
import fsp, { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { dirname, join } from 'node:path';
import { after, before, describe, it, mock } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import { layout } from '../../src/storage/layout.ts';
import { buildAci } from '../helpers/aci-builder.ts';
import { readAudit } from '../helpers/audit.ts';
import { createFixture, type Fixture } from '../helpers/fixture.ts';
import { curlPush } from '../helpers/push.ts';
import { assertNoInternals, unharmed } from './support.ts';

const V = (name: string, version: string) => ({ name, version, os: 'linux', arch: 'amd64' });

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

describe('hostile deletes', () => {
  let f: Fixture;
  let admin: string;
  let files = 0;

  const del = (name: string, version: string) =>
    f.server.request(`/-/api/images/${name}/${version}/linux/amd64`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } });

  /** Journal entries of one version, as {op} objects. */
  const journal = async (name: string, version: string) => {
    const out: { op: string }[] = [];
    for (const file of await filesUnder(join(f.server.storageDir, 'journal'))) {
      const entry = JSON.parse(await readFile(join(f.server.storageDir, 'journal', file), 'utf8'));
      if (entry.name === name && entry.version === version) out.push(entry);
    }
    return out;
  };

  /** Every version record's blob exists and every blob has a record; what is served agrees. */
  const consistent = async (name: string, version: string) => {
    const storage = f.server.storageDir;
    const all = await filesUnder(storage);
    const blobs = all.filter((p) => p.startsWith('blobs/')).sort();
    const records = await Promise.all(
      all.filter((p) => p.includes('/_v/')).map(async (p) => JSON.parse(await readFile(join(storage, p), 'utf8')).blob as string),
    );
    assert.deepEqual(blobs, records.sort(), 'no blob without a record, no record without a blob');
    const present = all.includes(layout.versionRecord(V(name, version)));
    const served = await f.server.request(`/-/aci/${name}/${version}/linux/amd64.aci`);
    assert.equal(served.status, present ? 200 : 404);
    return present;
  };

  const prepare = async (name: string, version: string, body: string) => {
    const aciPath = join(f.server.dir, `del-${++files}.aci`);
    await writeFile(aciPath, await buildAci({ name, version, entries: [{ name: 'rootfs/variant', body }] }));
    return { aciPath, ascPath: await f.gpg.signFile(aciPath, f.key.fingerprint) };
  };
  const push = (p: { aciPath: string; ascPath: string }) =>
    curlPush({ origin: f.server.origin, caFile: f.server.caFile, token: admin, aci: p.aciPath, asc: p.ascPath });

  before(async () => {
    f = await createFixture({ prefix: 'localhost/del' });
    admin = await f.createToken(['--prefix', 'localhost/del', '--scope', 'push', '--scope', 'delete', '--scope', 'overwrite']);
  });
  after(() => f?.close());

  it('16 simultaneous deletes of one version: one 200, fifteen 404, one audit event and one journal entry', async () => {
    const name = 'localhost/del/many';
    assert.equal((await push(await prepare(name, '1.0.0', 'one'))).status, 201);
    const results = await Promise.all(Array.from({ length: 16 }, () => del(name, '1.0.0')));
    assert.deepEqual(results.map((r) => r.status).sort(), [200, ...Array(15).fill(404)], results.map((r) => r.body.toString()).join('\n'));
    for (const r of results.filter((x) => x.status === 404)) {
      assertNoInternals(r.body.toString());
      const body = JSON.parse(r.body.toString());
      assert.equal(body.error.code, 'IMAGE_NOT_FOUND');
      assert.match(body.error.message, /GET \/-\/api\/images\/localhost\/del\/many lists its versions/);
    }
    const events = (await readAudit(f.server.storageDir)).filter((e) => e.action === 'delete' && e.name === name);
    assert.deepEqual(
      events.map((e) => e.result),
      ['deleted'],
      JSON.stringify(events),
    );
    assert.deepEqual(
      (await journal(name, '1.0.0')).map((e) => e.op),
      ['put', 'delete'],
    );
    assert.equal(await consistent(name, '1.0.0'), false, 'the version is gone with its files');
    assert.equal((await readdir(join(f.server.storageDir, layout.recordTombstones(V(name, '1.0.0'))))).length, 1);
  });

  it('a delete racing an overwrite push leaves the new version whole or nothing, round after round', async () => {
    const name = 'localhost/del/overwrite';
    assert.equal((await push(await prepare(name, '1.0.0', 'round 0'))).status, 201);
    for (let round = 1; round <= 6; round++) {
      const next = await prepare(name, '1.0.0', `round ${round}`);
      const [deleted, pushed] = await Promise.all([del(name, '1.0.0'), push(next)]);
      // A version is present at the start of every round, so the delete always has one to remove.
      assert.equal(deleted.status, 200, deleted.body.toString());
      assert.ok([201, 409].includes(pushed.status), pushed.raw);
      const present = await consistent(name, '1.0.0');
      assert.equal(present, pushed.status === 201, 'present exactly when the push came after the delete');
      if (!present) assert.equal((await push(next)).status, 201, 'the version can be pushed again');
      const served = await f.server.request(`/-/aci/${name}/1.0.0/linux/amd64.aci`);
      assert.ok(served.body.equals(await readFile(next.aciPath)), 'the new bytes are served');
    }
  });

  it('delete, re-push, delete again: each delete wins once', async () => {
    const name = 'localhost/del/again';
    for (let i = 0; i < 3; i++) {
      assert.equal((await push(await prepare(name, '1.0.0', `take ${i}`))).status, 201);
      const results = await Promise.all([del(name, '1.0.0'), del(name, '1.0.0'), del(name, '1.0.0')]);
      assert.deepEqual(results.map((r) => r.status).sort(), [200, 404, 404]);
      assert.equal(await consistent(name, '1.0.0'), false);
    }
    const events = (await readAudit(f.server.storageDir)).filter((e) => e.action === 'delete' && e.name === name);
    assert.deepEqual(
      events.map((e) => e.result),
      ['deleted', 'deleted', 'deleted'],
    );
    assert.deepEqual(
      (await journal(name, '1.0.0')).map((e) => e.op),
      ['put', 'delete', 'put', 'delete', 'put', 'delete'],
    );
    assert.equal((await readdir(join(f.server.storageDir, layout.recordTombstones(V(name, '1.0.0'))))).length, 3);
  });

  it('a tombstone written by an older server still refuses a silent re-push', async () => {
    const name = 'localhost/del/legacy';
    const file = join(f.server.storageDir, layout.tombstone(V(name, '1.0.0')));
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, '{}');
    const p = await prepare(name, '1.0.0', 'legacy');
    const res = await curlPush({ origin: f.server.origin, caFile: f.server.caFile, token: f.token, aci: p.aciPath, asc: p.ascPath });
    assert.equal(res.status, 409, res.raw);
    assert.equal(res.json.error.code, 'VERSION_DELETED');
  });
});

/**
 * Deletes that land between the steps of a push's commit. The server runs in this
 * process: its calls to rmdir and link are held at chosen points to force the
 * interleaving, with the real storage underneath.
 */
describe('deletes inside a push commit', () => {
  let f: Fixture;
  let admin: string;

  before(async () => {
    f = await createFixture({ prefix: 'localhost/prune' });
    admin = await f.createToken(['--prefix', 'localhost/prune', '--scope', 'push', '--scope', 'delete', '--scope', 'overwrite']);
  });
  after(() => f?.close());

  /** Calls held until released, in arrival order. */
  const held = () => {
    const calls: (() => void)[] = [];
    return {
      calls,
      hold: () => new Promise<void>((release) => calls.push(release)),
      async reached(n: number) {
        while (calls.length < n) await sleep(5);
      },
    };
  };

  let files = 0;
  const prepare = async (name: string, body: string) => {
    const aciPath = join(f.server.dir, `commit-${++files}.aci`);
    await writeFile(aciPath, await buildAci({ name, version: '1.0.0', entries: [{ name: 'rootfs/variant', body }] }));
    return { aciPath, ascPath: await f.gpg.signFile(aciPath, f.key.fingerprint) };
  };
  const pushPrepared = async (p: { aciPath: string; ascPath: string }, token = admin) => ({
    aciPath: p.aciPath,
    res: await curlPush({ origin: f.server.origin, caFile: f.server.caFile, token, aci: p.aciPath, asc: p.ascPath }),
  });
  const push = async (name: string, body: string, token = admin) => pushPrepared(await prepare(name, body), token);
  const del = (name: string) =>
    f.server.request(`/-/api/images/${name}/1.0.0/linux/amd64`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } });

  // The filesystem backend removes a directory once a delete leaves it empty, also the one a
  // push is placing its blob in, between making it and linking into it, as often as deletes empty it.
  it('an overwrite push whose blob directory two deletes prune in turn still publishes', async () => {
    const blobs = join(f.server.storageDir, 'blobs');
    assert.equal((await push('localhost/prune/app', 'old')).res.status, 201);
    assert.equal((await push('localhost/prune/other', 'other')).res.status, 201);
    assert.equal((await readdir(blobs)).length, 2, 'the two blobs are all the blobs directory holds');

    const rmdirs = held();
    const links = held();
    const realRmdir = fsp.rmdir;
    const realLink = fsp.link;
    mock.method(fsp, 'rmdir', (async (path, options) => {
      if (path === blobs) await rmdirs.hold();
      return realRmdir(path, options);
    }) as typeof fsp.rmdir);
    mock.method(fsp, 'link', (async (from, to) => {
      if (dirname(String(to)) === blobs && links.calls.length < 2) await links.hold();
      return realLink(from, to);
    }) as typeof fsp.link);
    syncBuiltinESMExports();
    try {
      // Both deletes have removed their blob and wait to remove the directory, now empty.
      const deletes = [del('localhost/prune/app'), del('localhost/prune/other')];
      await rmdirs.reached(2);
      // The overwrite push finds the version gone, and waits with the directory made, to link into it.
      const pushed = push('localhost/prune/app', 'new');
      await links.reached(1);
      rmdirs.calls[0]!();
      assert.equal((await Promise.race(deletes)).status, 200);
      links.calls[0]!();
      // The push makes the directory again; the other delete removes it again before the link.
      await links.reached(2);
      rmdirs.calls[1]!();
      assert.deepEqual(
        (await Promise.all(deletes)).map((r) => r.status),
        [200, 200],
      );
      links.calls[1]!();
      const { aciPath, res } = await pushed;
      assert.equal(res.status, 201, res.raw);
      const served = await f.server.request('/-/aci/localhost/prune/app/1.0.0/linux/amd64.aci');
      assert.equal(served.status, 200);
      assert.ok(served.body.equals(await readFile(aciPath)), 'the new bytes are served');
      assert.equal((await readdir(blobs)).length, 1, 'the new blob, and no other');
    } finally {
      mock.restoreAll();
      syncBuiltinESMExports();
      for (const release of [...rmdirs.calls, ...links.calls]) release();
    }
  });

  for (const [who, overwrite] of [
    ['an overwrite push', true],
    ['a plain push', false],
  ] as const) {
    it(`${who} losing the commit to a record deleted at once is judged as a push after that delete`, async () => {
      const name = `localhost/prune/lost-${overwrite ? 'overwrite' : 'plain'}`;
      const recordFile = join(f.server.storageDir, layout.versionRecord(V(name, '1.0.0')));
      const token = overwrite ? admin : f.token;
      const images = [await prepare(name, 'one'), await prepare(name, 'two')];
      const links = held();
      const realLink = fsp.link;
      let deleted: Awaited<ReturnType<typeof del>> | undefined;
      mock.method(fsp, 'link', (async (from, to) => {
        if (to !== recordFile || links.calls.length >= 2) return realLink(from, to);
        await links.hold();
        try {
          return await realLink(from, to);
        } catch (e) {
          // The other push's record is there: delete it before this push reads it.
          deleted = await del(name);
          throw e;
        }
      }) as typeof fsp.link);
      syncBuiltinESMExports();
      try {
        // Both pushes found the version free and are about to write its record.
        const pushes = images.map((p) => pushPrepared(p, token));
        await links.reached(2);
        links.calls[0]!();
        const first = await Promise.race(pushes);
        assert.equal(first.res.status, 201, first.res.raw);
        links.calls[1]!();
        const results = await Promise.all(pushes);
        const second = results.find((r) => r !== first)!;
        assert.equal(deleted?.status, 200, deleted?.body.toString());
        const served = await f.server.request(`/-/aci/${name}/1.0.0/linux/amd64.aci`);
        if (overwrite) {
          assert.equal(second.res.status, 201, second.res.raw);
          assert.equal(served.status, 200);
          assert.ok(served.body.equals(await readFile(second.aciPath)), 'the second push is served');
        } else {
          assert.equal(second.res.status, 409, second.res.raw);
          assert.equal(second.res.json.error.code, 'VERSION_DELETED');
          assert.equal(served.status, 404);
        }
        const all = await filesUnder(f.server.storageDir);
        const records = await Promise.all(
          all
            .filter((p) => p.includes('/_v/'))
            .map(async (p) => JSON.parse(await readFile(join(f.server.storageDir, p), 'utf8')).blob as string),
        );
        assert.deepEqual(
          all.filter((p) => p.startsWith('blobs/')).sort(),
          records.sort(),
          'no blob without a record, no record without a blob',
        );
      } finally {
        mock.restoreAll();
        syncBuiltinESMExports();
        for (const release of links.calls) release();
      }
    });
  }

  it('a store that says a record exists but never shows it gets a 503, not a push that never ends', async () => {
    const name = 'localhost/prune/phantom';
    const recordFile = join(f.server.storageDir, layout.versionRecord(V(name, '1.0.0')));
    const realLink = fsp.link;
    let tries = 0;
    mock.method(fsp, 'link', (async (from, to) => {
      if (to !== recordFile) return realLink(from, to);
      tries++;
      throw Object.assign(new Error(`EEXIST: file already exists, link '${String(from)}' -> '${String(to)}'`), { code: 'EEXIST' });
    }) as typeof fsp.link);
    syncBuiltinESMExports();
    try {
      const check = await unharmed(f.server.storageDir);
      const { res } = await push(name, 'phantom');
      assert.equal(res.status, 503, res.raw);
      assert.equal(res.json.error.code, 'STORAGE_INCONSISTENT');
      assert.ok(tries > 1 && tries <= 10, `${tries} writes of the record`);
      await check.check();
    } finally {
      mock.restoreAll();
      syncBuiltinESMExports();
    }
  });
});
