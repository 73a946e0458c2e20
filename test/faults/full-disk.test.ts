/**
 * A push that runs out of space on a small filesystem of its own answers 507,
 * leaves nothing partial, and the server keeps serving what is published.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promisify } from 'node:util';
import { createFixture, type Fixture } from '../helpers/fixture.ts';
import { scratchFiles, storageSnapshot } from '../helpers/storage-snapshot.ts';

const run = promisify(execFile);

describe('full disk', () => {
  let mount: string;
  let f: Fixture;

  before(async () => {
    mount = await mkdtemp(join(tmpdir(), 'acihost-full-'));
    await run('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', mount]);
    f = await createFixture({ env: { ACIHOST_STORAGE_DIR: mount } });
  });
  after(async () => {
    await f?.close();
    await run('umount', [mount]).catch(() => undefined);
    await rm(mount, { recursive: true, force: true });
  });

  it('answers 507 STORAGE_FULL, stores nothing, and keeps serving', async () => {
    const small = await f.push({ name: 'localhost/disk/app', version: '1.0.0' });
    assert.equal(small.status, 201, small.raw);

    const before = await storageSnapshot(mount);
    // Incompressible, so 8 MiB really needs 8 MiB on a 6 MiB filesystem.
    const big = await f.push({
      name: 'localhost/disk/app',
      version: '2.0.0',
      entries: [{ name: 'rootfs/noise', body: randomBytes(8 * 1024 * 1024) }],
    });
    assert.equal(big.status, 507, big.raw);
    assert.equal(big.json.error.code, 'STORAGE_FULL');
    assert.match(big.json.error.message, /full/);
    assert.deepEqual(await storageSnapshot(mount), before);
    assert.deepEqual(await scratchFiles(mount), []);

    const served = await f.server.request('/-/aci/localhost/disk/app/1.0.0/linux/amd64.aci');
    assert.equal(served.status, 200);
    assert.ok(served.body.equals(small.aci));
    const again = await f.push({ name: 'localhost/disk/app', version: '1.0.1' });
    assert.equal(again.status, 201, 'space was given back: the next push lands');
  });
});
