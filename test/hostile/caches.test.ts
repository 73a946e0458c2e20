/**
 * Anonymous floods against the caches of answers: distinct `?page=` values, junk
 * query parameters and other spellings of one page make no entries of their own,
 * what the caches hold stays within their byte bound, the process's memory stays
 * put, answers for every spelling are the canonical page's bytes, and a page in
 * use stays cached while cold pages churn through a small bound.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { seedRecords, versionRecord } from '../helpers/records.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { assertNoInternals, unharmed, type Unharmed } from './support.ts';

const MiB = 1024 * 1024;
const FLOOD = 10_000;
const CONCURRENCY = 16;
// Long names make a page of 50 of them weigh what a busy catalogue's does (about 36 KiB).
const NAMES = 2_000;
const LONG = 'backend-worker-pool-for-the-eu-west-region-with-a-long-descriptive-name-that-goes-on-and-on';
const nameOf = (i: number) => `localhost/svc${String(i).padStart(5, '0')}-${LONG}/${LONG}-${LONG}`;
const LAST_PAGE = NAMES / 50;

// A full collection on demand, so resident memory is compared with garbage gone.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function settledRss(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(200);
  }
  return process.memoryUsage.rss();
}

async function seeded(names: number): Promise<string> {
  const storage = await tempDir('acihost-caches-');
  await seedRecords(
    storage,
    Array.from({ length: names }, (_, i) => versionRecord(nameOf(i), {}, i)),
  );
  return storage;
}

/** GETs over a few kept-alive connections; the bodies are read and dropped. */
class Client {
  readonly #agent: Agent;
  readonly #server: TestServer;
  constructor(server: TestServer) {
    this.#server = server;
    this.#agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca: server.caPem });
  }

  get(path: string): Promise<{ status: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = request(this.#server.origin + path, { agent: this.#agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** Requests `paths(i)` for i in [0, count), CONCURRENCY at a time; every answer must be a 200. */
  async flood(count: number, paths: (i: number) => string): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const path = paths(next++);
        const { status, body } = await this.get(path);
        if (status !== 200) assert.fail(`${path}: ${status} ${body.toString().slice(0, 200)}`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  }

  close(): void {
    this.#agent.destroy();
  }
}

async function scrape(client: Client): Promise<string> {
  return (await client.get('/-/metrics')).body.toString();
}

function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  assert.ok(line, `${series} is exported`);
  return Number(line.slice(series.length + 1));
}

const cacheUse = async (client: Client, cache: 'pages' | 'answers') => {
  const text = await scrape(client);
  return {
    bytes: sample(text, `acihost_answer_cache_bytes{cache="${cache}"}`),
    entries: sample(text, `acihost_answer_cache_entries{cache="${cache}"}`),
  };
};

const fromMemory = async (client: Client) => sample(await scrape(client), 'acihost_http_memory_answers_total');

describe('hostile: floods against the caches of answers', () => {
  let server: TestServer;
  let client: Client;
  let untouched: Unharmed;

  before(async () => {
    // No index snapshot: storage must be exactly as seeded when the floods are over.
    server = await startTestServer({ env: { ACIHOST_STORAGE_DIR: await seeded(NAMES) }, config: { storage: { indexSnapshotNames: 0 } } });
    client = new Client(server);
    untouched = await unharmed(server.storageDir);
    // Warm up: every page once, so the flood is measured against a server that has seen them.
    await client.flood(LAST_PAGE, (i) => `/?page=${i + 1}`);
    await client.flood(LAST_PAGE, (i) => `/?page=${i + 1}&ac-discovery=1`);
  });
  after(async () => {
    client?.close();
    await server?.close();
  });

  it('keeps its pages near the size of a busy catalogue', async () => {
    const page = await client.get('/?page=2');
    assert.equal(page.status, 200);
    assert.ok(page.body.length > 30 * 1024 && page.body.length < 64 * 1024, `${page.body.length} bytes`);
  });

  it(`holds resident memory under 100 MiB of growth through ${FLOOD} distinct page values and ${FLOOD} junk queries`, async (t) => {
    const before = await settledRss();
    const heapBefore = process.memoryUsage();
    // Past the last page, zero-padded, and with the discovery parameter: all distinct URLs.
    await client.flood(FLOOD, (i) => (i % 2 ? `/?page=${LAST_PAGE + 1 + i * 97}` : `/?ac-discovery=1&page=${'0'.repeat(1 + (i % 7))}${i}`));
    await client.flood(FLOOD, (i) => (i % 2 ? `/?ac-discovery=1&x=${i}` : `/?utm_source=${i}&page=${1 + (i % LAST_PAGE)}`));
    const grown = ((await settledRss()) - before) / MiB;
    const heap = process.memoryUsage();
    const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
    t.diagnostic(
      `resident memory grew ${grown.toFixed(1)} MiB (V8 heap ${mib(heap.heapUsed - heapBefore.heapUsed)}, buffers ${mib(heap.external - heapBefore.external)})`,
    );
    assert.ok(grown < 100, `resident memory grew ${grown.toFixed(1)} MiB`);
  });

  it('holds no entry per spelling: the caches hold the pages that exist, within their byte bound', async () => {
    const bound = 32 * MiB;
    for (const cache of ['pages', 'answers'] as const) {
      const use = await cacheUse(client, cache);
      assert.ok(use.bytes > 0 && use.bytes <= bound, `${cache}: ${use.bytes} bytes`);
      // One entry per page of names at most (the root page and a few others besides).
      assert.ok(use.entries <= LAST_PAGE + 5, `${cache}: ${use.entries} entries`);
    }
    await untouched.check();
  });

  it('answers every spelling of a page with the bytes of the page that exists', async () => {
    const canonical = async (path: string) => {
      const res = await client.get(path);
      assert.equal(res.status, 200, path);
      assertNoInternals(res.body.toString());
      return res.body;
    };
    const seventh = await canonical('/?page=7');
    const last = await canonical(`/?page=${LAST_PAGE}`);
    const first = await canonical('/');
    assert.ok(!seventh.equals(first) && !last.equals(seventh));
    const same: [string, Buffer][] = [
      ['/?page=0007', seventh],
      ['/?page=000000007&ac-discovery=1', seventh],
      ['/?ac-discovery=1&junk=1&page=7&more=2', seventh],
      ['//?page=7', seventh],
      ['/?pag%65=%37', seventh],
      [`/?page=${LAST_PAGE + 1}`, last],
      ['/?page=9999999', last],
      [`/?page=${'9'.repeat(400)}`, last],
      ['/?page=0', first],
      ['/?page=-3', first],
      ['/?page=abc', first],
      ['/?page=2&page=3', first],
      ['/?ac-discovery=1', first],
    ];
    for (const [path, body] of same) {
      for (let i = 0; i < 2; i++) assert.ok((await client.get(path)).body.equals(body), path);
    }
  });

  it('answers a page past the last from the route each time, and a padded page number from memory', async () => {
    const pastEnd = `/?page=${LAST_PAGE + 12345}`;
    await client.get(pastEnd);
    let counted = await fromMemory(client);
    await client.get(pastEnd);
    assert.equal(await fromMemory(client), counted, 'a page past the last is not kept');
    await client.get('/?page=11');
    counted = await fromMemory(client);
    await client.get('/?page=011&utm=1');
    assert.equal(await fromMemory(client), counted + 1, 'page 11 spelt otherwise comes from its entry');
  });
});

describe('hostile: a page in use survives a flood of cold pages through a small bound', () => {
  let server: TestServer;
  let client: Client;

  before(async () => {
    server = await startTestServer({
      // About eight pages of names fit; the catalogue has forty.
      env: { ACIHOST_STORAGE_DIR: await seeded(NAMES), ACIHOST_ANSWER_CACHE_BYTES: String(8 * 40 * 1024) },
      config: { storage: { indexSnapshotNames: 0 } },
    });
    client = new Client(server);
  });
  after(async () => {
    client?.close();
    await server?.close();
  });

  it('keeps the hot page while cold pages push each other out, and never holds more than the bound', async () => {
    const hot = '/?page=3&ac-discovery=1';
    const body = (await client.get(hot)).body;
    for (let round = 0; round < 5; round++) {
      // Every other page of the catalogue, each once, then the hot page again.
      for (let page = 1; page <= LAST_PAGE; page++) {
        if (page === 3) continue;
        await client.get(`/?page=${page}`);
        if (page % 4 === 0) {
          const counted = await fromMemory(client);
          const again = await client.get(hot);
          assert.ok(again.body.equals(body));
          assert.equal(await fromMemory(client), counted + 1, `round ${round}, after page ${page}: the hot page came from memory`);
        }
      }
      for (const cache of ['pages', 'answers'] as const) {
        const use = await cacheUse(client, cache);
        assert.ok(use.bytes <= 8 * 40 * 1024, `${cache}: ${use.bytes} bytes`);
        assert.ok(use.entries < LAST_PAGE / 2, `${cache}: ${use.entries} entries, cold pages were dropped`);
      }
    }
    // The coldest pages went: page 1 was asked for long ago.
    const counted = await fromMemory(client);
    await client.get('/?page=1');
    assert.equal(await fromMemory(client), counted, 'a cold page was dropped');
  });
});
