/**
 * The claims protocol on its own, with every storage call delayed at random so that
 * claims, listings, journal reads and publishes interleave in many orders: pushes spread
 * over three replicas (each its own index, journal reader and quota service over one
 * store) commit as the publisher does, and what is published never passes the quota,
 * whichever order things happened in. The judgement itself is checked case by case.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../src/logger.ts';
import { Catalog } from '../../src/registry/catalog/catalog.ts';
import { ChangeJournal } from '../../src/registry/catalog/change-journal.ts';
import { serializeVersionRecord } from '../../src/registry/catalog/version-record.ts';
import type { Claim } from '../../src/registry/quota/quota-claims.ts';
import { judge } from '../../src/registry/quota/quota-judge.ts';
import type { QuotaRecord } from '../../src/registry/quota/quota-store.ts';
import { Quotas } from '../../src/registry/quota/quotas.ts';
import { FsStorage } from '../../src/storage/fs-storage.ts';
import { layout } from '../../src/storage/layout.ts';
import { createOnce, type ByteRange, type ListOptions, type ObjectInfo, type PutOptions, type Storage } from '../../src/storage/storage.ts';
import { versionRecord } from '../helpers/records.ts';
import { tempDir } from '../helpers/temp-dir.ts';

/** Every call waits up to `maxMs` before and after it reaches the store. */
class JitterStorage implements Storage {
  private readonly inner: Storage;
  private readonly maxMs: number;
  constructor(inner: Storage, maxMs: number) {
    this.inner = inner;
    this.maxMs = maxMs;
  }
  private async around<T>(op: () => Promise<T>): Promise<T> {
    await sleep(Math.random() * this.maxMs);
    const result = await op();
    await sleep(Math.random() * this.maxMs);
    return result;
  }
  read(key: string, range?: ByteRange): Promise<Readable> {
    return this.around(() => this.inner.read(key, range));
  }
  get(key: string): Promise<Buffer | null> {
    return this.around(() => this.inner.get(key));
  }
  stat(key: string): Promise<ObjectInfo | null> {
    return this.around(() => this.inner.stat(key));
  }
  put(key: string, body: Buffer | Readable, options?: PutOptions): Promise<ObjectInfo> {
    return this.around(() => this.inner.put(key, body, options));
  }
  promote(from: string, to: string): Promise<void> {
    return this.around(() => this.inner.promote(from, to));
  }
  delete(key: string): Promise<void> {
    return this.around(() => this.inner.delete(key));
  }
  async *list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo> {
    await sleep(Math.random() * this.maxMs);
    for await (const o of this.inner.list(prefix, options)) yield o;
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

const quota = (limits: Partial<QuotaRecord>): QuotaRecord => ({
  prefix: 'localhost/team',
  maxBytes: null,
  maxVersions: null,
  setAt: '',
  ...limits,
});

const claim = (id: string, c: Partial<Claim>): Claim => ({
  id,
  stage: 'admission',
  under: ['localhost/team/app'],
  bytes: 1,
  versions: 1,
  expiresAt: Infinity,
  ...c,
});

describe('quota claims: the judgement', () => {
  const use = () => ({ bytes: 50, versions: 5 });
  const q = [quota({ maxBytes: 100, maxVersions: 7 })];

  it('fits when everything counted fits, and says what it leaves', () => {
    const v = judge(claim('2', { bytes: 10 }), q, [claim('1', { bytes: 30 })], use);
    assert.equal(v.kind, 'fits');
    assert.equal(v.kind === 'fits' && v.bytesLeft?.bytes, 100 - 50 - 30);
  });

  it('is over when the older claims alone leave no room, and waits when only newer ones are in the way', () => {
    assert.equal(judge(claim('2', { bytes: 30 }), q, [claim('1', { bytes: 30 })], use).kind, 'over');
    assert.equal(judge(claim('1', { bytes: 30 }), q, [claim('2', { bytes: 30 })], use).kind, 'wait');
    assert.equal(judge(claim('3', {}), q, [claim('1', {}), claim('2', {})], use).kind, 'over', 'the eighth version');
  });

  it('at the commit, does not wait for newer pushes still uploading, but for newer commits', () => {
    const own = claim('1', { stage: 'commit', bytes: 30 });
    assert.equal(judge(own, q, [claim('2', { bytes: 30 })], use).kind, 'fits');
    assert.equal(judge(own, q, [claim('2', { stage: 'commit', bytes: 30 })], use).kind, 'wait');
  });

  it('counts a claim toward a quota only when the quota covers all it may be named', () => {
    const others = [
      claim('1', { under: ['localhost/team', 'localhost/other'], bytes: 45 }),
      claim('0', { under: ['localhost/teamx'], bytes: 45 }),
    ];
    assert.equal(judge(claim('2', { bytes: 45 }), q, others, use).kind, 'fits');
  });
});

describe('quota claims: pushes over three replicas, in random interleavings', () => {
  let storage: Storage;
  let replicas: { catalog: Catalog; changes: ChangeJournal; quotas: Quotas }[];
  let version = 0;
  const log = createLogger('silent');

  before(async () => {
    storage = new JitterStorage(new FsStorage(await tempDir('acihost-claims-')), 3);
    replicas = [];
    for (let i = 0; i < 3; i++) {
      const catalog = new Catalog(storage);
      const changes = new ChangeJournal(storage, catalog, log);
      const quotas = new Quotas({ storage, catalog, changes, domain: 'localhost', admissionSeconds: 3600 });
      // Polled rarely: what a judgement needs it must read for itself.
      await quotas.start(60_000, () => {});
      replicas.push({ catalog, changes, quotas });
    }
  });
  after(() => {
    for (const r of replicas) r.quotas.stop();
  });

  /** One push as the publisher makes it: admitted, claimed at the commit, the record written, journaled, released. */
  async function push(replica: (typeof replicas)[number], prefix: string, size: number, journal = true): Promise<boolean> {
    const record = versionRecord(`${prefix}/app`, { version: `1.0.${++version}`, size }, version);
    let admission;
    try {
      admission = await replica.quotas.admit({ under: [prefix], bytes: 0 });
      await sleep(Math.random() * 60); // the upload: some end long after others were published
      const commit = await replica.quotas.claimCommit(record, admission);
      let journaled = true;
      try {
        assert.ok(await createOnce(storage, layout.versionRecord(record), serializeVersionRecord(record)));
        replica.catalog.add(record);
        // Without its journal entry, the other replicas learn of the version from its claim alone.
        journaled = journal && (await replica.changes.record('put', record));
      } finally {
        await commit?.release(!journaled);
      }
      return true;
    } catch (e) {
      if ((e as { code?: string }).code !== 'QUOTA_EXCEEDED') throw e;
      return false;
    } finally {
      await replica.quotas.releaseAdmission(admission);
    }
  }

  async function claimsLeft(): Promise<string[]> {
    const left: string[] = [];
    for await (const o of storage.list(layout.quotaClaims)) left.push(o.key);
    return left;
  }

  async function published(prefix: string): Promise<{ bytes: number; versions: number }> {
    const use = { bytes: 0, versions: 0 };
    for await (const o of storage.list(`${layout.images}${prefix}/`)) {
      if (!layout.parseVersionRecord(o.key)) continue;
      use.bytes += JSON.parse((await storage.get(o.key))!.toString()).size;
      use.versions++;
    }
    return use;
  }

  for (let round = 1; round <= 10; round++) {
    it(`round ${round}: sixteen pushes of random sizes never pass a byte quota`, async () => {
      const prefix = `localhost/round${round}`;
      const sizes = Array.from({ length: 16 }, () => 100 + Math.floor(Math.random() * 900));
      const limit = 2000 + Math.floor(Math.random() * 1000);
      await replicas[0]!.quotas.store.set(prefix, { maxBytes: limit, maxVersions: null });
      const results = await Promise.all(sizes.map((size, i) => push(replicas[i % 3]!, prefix, size)));
      const use = await published(prefix);
      assert.ok(use.bytes <= limit, `${use.bytes} bytes published under a quota of ${limit} (sizes ${sizes.join(',')})`);
      assert.ok(results.some(Boolean), 'at least one fits');
      const refusedButFitting = sizes.filter((s, i) => !results[i] && s <= limit - use.bytes);
      assert.ok(refusedButFitting.length < sizes.length, 'not every push is refused');
      assert.deepEqual(await claimsLeft(), [], 'no claim left');
    });
  }

  it('a replica counts what another published a moment ago, before any poll of its own', async () => {
    const prefix = 'localhost/moment';
    await replicas[0]!.quotas.store.set(prefix, { maxBytes: 1000, maxVersions: null });
    assert.ok(await push(replicas[0]!, prefix, 600));
    assert.equal(await push(replicas[1]!, prefix, 600), false);
    assert.ok(await push(replicas[2]!, prefix, 400));
    assert.deepEqual(await published(prefix), { bytes: 1000, versions: 2 });
  });

  it('a version whose journal entry was lost is counted by its claim on the other replicas, and only once', async () => {
    const prefix = 'localhost/unjournaled';
    await replicas[0]!.quotas.store.set(prefix, { maxBytes: 1000, maxVersions: null });
    assert.ok(await push(replicas[0]!, prefix, 600, false));
    assert.equal(await push(replicas[1]!, prefix, 401), false, 'counted through the claim kept');
    assert.ok(await push(replicas[2]!, prefix, 400), 'the claim and the version it became count once');
    assert.equal(await replicas[0]!.quotas.sweep(), 0, 'the claim stays until it expires');
    assert.equal((await claimsLeft()).length, 1);
  });

  it('a version quota over three replicas takes exactly as many as it allows', async () => {
    const prefix = 'localhost/versions';
    await replicas[0]!.quotas.store.set(prefix, { maxBytes: null, maxVersions: 4 });
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => push(replicas[i % 3]!, prefix, 100)));
    assert.equal(results.filter(Boolean).length, 4);
    assert.equal((await published(prefix)).versions, 4);
  });
});
