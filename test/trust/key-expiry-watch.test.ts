/** The server's warning before a trusted key expires: real keys, a real store, a real JSON logger. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../src/logger.ts';
import { KeyExpiryWatch } from '../../src/registry/trust/key-expiry-watch.ts';
import { KeyStore } from '../../src/registry/trust/keyring.ts';
import { FsStorage } from '../../src/storage/fs-storage.ts';
import { createGpg, type Gpg, type GpgKey } from '../helpers/gpg.ts';

const DAY = 24 * 3600 * 1000;

describe('warning before a trusted key expires', () => {
  let dir: string;
  let gpg: Gpg;
  let keys: KeyStore;
  let soon: GpgKey;
  let later: GpgKey;
  let retired: GpgKey;
  const lines: Record<string, unknown>[] = [];
  let watch: KeyExpiryWatch;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'acihost-expiry-'));
    gpg = await createGpg();
    keys = new KeyStore(new FsStorage(dir), 'localhost');
    [soon, later, retired] = [
      await gpg.genKey({ algo: 'nistp256', expire: '10d' }),
      await gpg.genKey({ algo: 'nistp256', expire: '90d' }),
      await gpg.genKey({ algo: 'nistp256', expire: '5d' }),
    ];
    for (const k of [soon, later, retired]) await keys.add('localhost/team', await gpg.exportPublic(k.fingerprint));
    await keys.setRetired(retired.fingerprint, new Date());
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        cb();
      },
    });
    watch = new KeyExpiryWatch(keys, createLogger('info', sink as never));
  });
  after(async () => {
    await gpg?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  const flushed = () => new Promise((r) => setImmediate(r));

  it('warns about an active key that expires within 30 days, with what to do', async () => {
    const now = new Date();
    assert.deepEqual(watch.check(now), [soon.fingerprint]);
    await flushed();
    const line = lines.at(-1)!;
    assert.equal(line.level, 40);
    assert.equal(line.msg, 'trusted key expires soon');
    assert.equal(line.fingerprint, soon.fingerprint);
    assert.ok(line.daysLeft === 9 || line.daysLeft === 10, String(line.daysLeft));
    assert.match(String(line.hint), /gpg --quick-set-expire/);
  });

  it('says it once a day, not at every check', () => {
    const now = Date.now();
    assert.deepEqual(watch.check(new Date(now + 3600 * 1000)), []);
    assert.deepEqual(watch.check(new Date(now + DAY + 3600 * 1000)), [soon.fingerprint]);
  });

  it('warns that a key has expired once it has', async () => {
    const warned = watch.check(new Date(Date.now() + 12 * DAY));
    assert.deepEqual(warned, [soon.fingerprint]);
    await flushed();
    assert.equal(lines.at(-1)!.msg, 'trusted key expired');
  });

  it('warns about the 90-day key only in its last 30 days, and never about a retired key', () => {
    assert.deepEqual(watch.check(new Date(Date.now() + 70 * DAY)).sort(), [soon.fingerprint, later.fingerprint].sort());
    assert.ok(!lines.some((l) => l.fingerprint === retired.fingerprint));
  });
});
