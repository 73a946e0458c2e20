/**
 * Answers given from memory (src/http/memory-answers.ts): a repeated anonymous GET
 * of a discovery page, a signature or a key is answered before routing, with the
 * same bytes and headers as the first answer, the same access line and metrics,
 * and never once the catalogue or keys changed, nor to a request that carries
 * credentials, asks for a range or revalidates.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { MemoryAnswers } from '../../src/http/memory-answers.ts';
import { createFixture, type Fixture } from '../helpers/fixture.ts';
import { seedRecords, versionRecord } from '../helpers/records.ts';
import type { HttpsResponse } from '../helpers/tls.ts';

const PAGE = '/web/app?ac-discovery=1';
const ASC = '/-/aci/localhost/web/app/1.0.0/linux/amd64.aci.asc';
const SECRET_ASC = '/-/aci/localhost/secret/app/1.0.0/linux/amd64.aci.asc';

describe('answers from memory', () => {
  let f: Fixture;
  let keyPath: string;
  let puller: string;

  async function fromMemory(): Promise<number> {
    const text = (await f.server.request('/-/metrics')).body.toString();
    return Number(/^acihost_http_memory_answers_total (\d+)$/m.exec(text)?.[1] ?? 'NaN');
  }

  /** GETs `path` and says whether the answer came from memory. */
  async function get(path: string, headers: Record<string, string> = {}): Promise<{ res: HttpsResponse; memory: boolean }> {
    const before = await fromMemory();
    const res = await f.server.request(path, { headers });
    return { res, memory: (await fromMemory()) > before };
  }

  const withoutDate = (h: HttpsResponse['headers']) => {
    const { date: _date, ...rest } = h;
    return rest;
  };

  before(async () => {
    f = await createFixture({ config: { access: { privatePrefixes: ['localhost/secret'] } } });
    assert.equal((await f.push({ name: 'localhost/web/app', version: '1.0.0' })).status, 201);
    assert.equal((await f.push({ name: 'localhost/secret/app', version: '1.0.0' })).status, 201);
    puller = await f.createToken(['--prefix', 'localhost/secret', '--scope', 'pull']);
    keyPath = `/-/keys/${f.key.fingerprint.toLowerCase()}.asc`;
  });
  after(() => f?.close());

  it('answers a repeated page, signature, key and keys file with the same bytes and headers', async () => {
    for (const path of [PAGE, '/', ASC, keyPath, '/web/pubkeys.gpg']) {
      const first = await get(path);
      assert.equal(first.res.status, 200, path);
      assert.equal(first.memory, false, `${path}: the first answer is Fastify's`);
      const again = await get(path);
      assert.equal(again.memory, true, `${path}: the second answer comes from memory`);
      assert.equal(again.res.status, 200);
      assert.ok(again.res.body.equals(first.res.body), path);
      assert.deepEqual(withoutDate(again.res.headers), withoutDate(first.res.headers), path);
    }
  });

  it('counts an answer from memory under its route, like any other', async () => {
    const count = async () => {
      const text = (await f.server.request('/-/metrics')).body.toString();
      return Number(/^acihost_http_requests_total\{method="GET",route="\/-\/aci\/\*",status="200"\} (\d+)$/m.exec(text)?.[1]);
    };
    const before = await count();
    assert.equal((await get(ASC)).memory, true);
    assert.equal(await count(), before + 1);
  });

  it('forgets every answer when the catalogue or the keys change', async () => {
    await get(PAGE);
    assert.equal((await get(PAGE)).memory, true);
    assert.equal((await f.push({ name: 'localhost/web/app', version: '1.1.0' })).status, 201);
    const page = await get(PAGE);
    assert.equal(page.memory, false);
    assert.match(page.res.body.toString(), /1\.1\.0/, 'the new version is on the page');
    const latest = '/-/aci/localhost/web/app/latest/linux/amd64.aci.asc';
    const newest = await get(latest);
    assert.ok(newest.res.body.equals((await get('/-/aci/localhost/web/app/1.1.0/linux/amd64.aci.asc')).res.body));

    await get(keyPath);
    assert.equal((await get(keyPath)).memory, true);
    const other = await f.gpg.genKey({ algo: 'rsa2048', uid: 'other <other@localhost>' });
    await f.trust(other, 'localhost/web');
    // The CLI wrote the key to storage; the server sees it at its next look (within 2 s), and the page shows it then.
    const shown = new RegExp(other.fingerprint.toLowerCase());
    const deadline = Date.now() + 5000;
    while (!shown.test((await get(PAGE)).res.body.toString())) {
      assert.ok(Date.now() < deadline, 'the new key reached the page within 5 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal((await get(keyPath)).memory, false, 'a key change drops the answers');
  });

  it('leaves credentials, ranges and revalidation to the routes', async () => {
    const first = await get(ASC);
    assert.equal((await get(ASC)).memory, true);
    // The route decides what a token means; on a public file, a wrong one is ignored (200), never counted as memory's.
    const bad = await get(ASC, { authorization: 'Bearer acih_00000000000000000000_nope' });
    assert.equal(bad.memory, false);
    assert.equal(bad.res.status, 200);
    const part = await get(ASC, { range: 'bytes=0-9' });
    assert.equal(part.res.status, 206);
    assert.equal(part.memory, false);
    const revalidated = await get(ASC, { 'if-none-match': first.res.headers.etag! });
    assert.equal(revalidated.res.status, 304);
    assert.equal(revalidated.memory, false);
  });

  it('never keeps a page for a name it did not know: one stored by another process is found at once', async () => {
    const page = '/web/later?ac-discovery=1';
    for (let i = 0; i < 2; i++) {
      const keysOnly = await get(page);
      assert.equal(keysOnly.res.status, 200, 'a name under a trusted prefix: the keys and the push endpoint');
      assert.equal(keysOnly.memory, false);
      assert.doesNotMatch(keysOnly.res.body.toString(), /name="ac-discovery" content="localhost\/web\/later /);
    }
    // As another process would, with its journal entry lost: only the look in storage for an unknown
    // name can find it (after the second for which a miss is remembered).
    await seedRecords(f.server.storageDir, [versionRecord('localhost/web/later')]);
    const deadline = Date.now() + 3000;
    while (!/name="ac-discovery" content="localhost\/web\/later /.test((await get(page)).res.body.toString())) {
      assert.ok(Date.now() < deadline, 'the page shows the stored name within 3 s');
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  it('never keeps an answer that needed a token', async () => {
    const allowed = await get(SECRET_ASC, { authorization: `Bearer ${puller}` });
    assert.equal(allowed.res.status, 200);
    const anonymous = await get(SECRET_ASC);
    assert.equal(anonymous.res.status, 401);
    assert.equal(anonymous.memory, false);
    assert.equal((await get(SECRET_ASC)).res.status, 401);
  });
});

describe('answers from memory, bounds and keys', () => {
  let app: FastifyInstance;
  let base: string;
  let answeredFromMemory = 0;
  let answers: MemoryAnswers<undefined>;

  before(async () => {
    answers = new MemoryAnswers({
      stamp: () => 1,
      shuttingDown: () => false,
      nextId: () => 'req-x',
      kindOf: () => undefined,
      record: () => void answeredFromMemory++,
      // Three answers of 500 bytes fit (with their headers, keys and bookkeeping), four do not.
      maxBytes: 3000,
    });
    app = Fastify({
      serverFactory: (handler) => createServer((req, res) => answers.answer(req, res) || handler(req, res)),
    });
    app.get<{ Params: { size: string } }>('/:size', { onSend: answers.remember }, async (request) =>
      Buffer.alloc(Number(request.params.size), 'x'),
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  after(() => app?.close());

  const fromMemory = async (path: string) => {
    const before = answeredFromMemory;
    const res = await fetch(base + path);
    assert.equal(res.status, 200);
    assert.equal((await res.arrayBuffer()).byteLength, Number(/\d+/.exec(decodeURIComponent(path))![0]));
    await new Promise((r) => setImmediate(r));
    return answeredFromMemory > before;
  };

  it('drops the least recently used answers past its byte bound, and keeps none larger than it', async () => {
    for (const path of ['/500', '/501', '/502']) assert.equal(await fromMemory(path), false);
    assert.equal(await fromMemory('/500'), true);
    assert.equal(await fromMemory('/503'), false);
    assert.ok(answers.use.bytes <= 3000, `${answers.use.bytes} bytes`);
    assert.equal(answers.use.size, 3);
    assert.equal(await fromMemory('/500'), true, 'used just before, it stayed');
    assert.equal(await fromMemory('/502'), true);
    assert.equal(await fromMemory('/503'), true);
    assert.equal(await fromMemory('/501'), false, 'the least recently used made room');
    assert.equal(await fromMemory('/2999'), false);
    assert.equal(await fromMemory('/2999'), false, 'larger than the bound with its headers: never kept');
  });

  it('keeps one answer for a path whatever else the query holds, and none for other spellings of it', async () => {
    assert.equal(await fromMemory('/700?a=1'), false);
    for (const path of ['/700', '/700?a=2', '/700?ac-discovery=1&b=3', '/700?page=1', '/700?page=0001'])
      assert.equal(await fromMemory(path), true, path);
    const size = answers.use.size;
    // A page past the first is another answer for a route that shows pages; this one shows none, so it is not kept.
    for (let i = 0; i < 2; i++) assert.equal(await fromMemory('/700?page=2'), false);
    // An escaped path reaches the same route: answered, but neither from memory nor kept.
    for (let i = 0; i < 2; i++) assert.equal(await fromMemory('/%37%300'), false);
    assert.equal(answers.use.size, size);
  });
});
