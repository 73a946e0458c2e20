/**
 * Uploads that end early: a client that hangs up in the middle of an image, a
 * refusal while the image streams, a server closing under an upload. Whichever
 * way a request ends, its staging ends with it: no scratch file under tmp/, no
 * descriptor into storage, storage as it was.
 */
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { connect, type TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { wireRequest, type AcpushAuth } from '../helpers/acpush-client.ts';
import { createAcpushFixture, type AcpushFixture } from '../helpers/acpush-fixture.ts';
import { scratchFiles } from '../helpers/storage-snapshot.ts';
import type { TestServer } from '../helpers/server.ts';
import { assertNoInternals, unharmed } from './support.ts';

const PREFIX = 'localhost/hostile';
const NAME = `${PREFIX}/app`;
const BOUNDARY = 'hostile-boundary';

function openTo(server: TestServer): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: server.port, servername: 'localhost', ca: server.caPem }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves once `check` holds, polling for up to 10 s. */
async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (const deadline = Date.now() + 10_000; !(await check()); await sleep(20)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
  }
}

const stagingBegun = (server: TestServer) => until('staging has begun', async () => (await scratchFiles(server.storageDir)).length > 0);

/** Sends the head and the first bytes of a body, waits until the server stages it, then hangs up. */
async function hangUpMidBody(server: TestServer, head: string, sent: Buffer): Promise<void> {
  const socket = await openTo(server);
  socket.on('error', () => undefined);
  socket.write(head);
  socket.write(sent);
  await stagingBegun(server);
  socket.destroy();
}

/** The first bytes the server answers on a raw socket (its status line and headers, at least). */
function answerOf(socket: TLSSocket): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.once('data', (c: Buffer) => resolve(c.toString('utf8')));
    socket.once('close', () => reject(new Error('closed without an answer')));
  });
}

const chunk = (bytes: Buffer) => Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from('\r\n')]);

function acpushPutHead(server: TestServer, token: string, url: string): string {
  const path = new URL(url).pathname;
  const basic = Buffer.from(`any:${token}`).toString('base64');
  return (
    `PUT ${path} HTTP/1.1\r\nHost: localhost:${server.port}\r\nUser-Agent: Go-http-client/1.1\r\n` +
    `Transfer-Encoding: chunked\r\nAuthorization: Basic ${basic}\r\nAccept-Encoding: gzip\r\n\r\n`
  );
}

const filePart = (field: string, filename: string) =>
  `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\n` +
  `Content-Type: application/octet-stream\r\n\r\n`;

/** A curl-style push whose declared length is the whole form; `first` is what precedes the image. */
function pushHead(token: string, length: number): string {
  return (
    `POST /-/push HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\n` +
    `Content-Type: multipart/form-data; boundary=${BOUNDARY}\r\nContent-Length: ${length}\r\n\r\n`
  );
}

/** An image of a few MiB that does not compress, so half of it is still half of it on the wire. */
async function bigImage(fx: AcpushFixture, version: string) {
  return fx.signed({ version, entries: [{ name: 'rootfs/blob', body: randomBytes(4 * 1024 * 1024) }] });
}

async function startSession(fx: AcpushFixture, version: string, auth: AcpushAuth = { bearer: fx.token }) {
  const url = `${fx.server.origin}/-/acpush/start/${NAME}/${version}/linux/amd64.aci`;
  return wireRequest(url, { method: 'POST', ca: fx.server.caPem, auth, body: Buffer.alloc(0) });
}

async function openSession(fx: AcpushFixture, version: string): Promise<Record<string, string>> {
  const res = await startSession(fx, version);
  assert.equal(res.status, 200, res.body.toString());
  return res.json;
}

const openDescriptors = async () => (await readdir('/proc/self/fd')).length;

describe('uploads that end early leave nothing behind', () => {
  let fx: AcpushFixture;
  let image: { aci: Buffer; asc: Buffer };

  before(async () => {
    fx = await createAcpushFixture({ prefix: PREFIX, config: { server: { shutdownGraceSeconds: 0 } } });
    await fx.keysVisible('/hostile');
    image = await bigImage(fx, '1.0.0');
  });
  after(() => fx?.close());

  /** The cut also ends the upload (acpush never resends a part): storage is as before it started. */
  async function cutAcpushImage(): Promise<void> {
    const check = await unharmed(fx.server.storageDir);
    const urls = await openSession(fx, '1.0.0');
    const half = image.aci.subarray(0, image.aci.length / 2);
    await hangUpMidBody(fx.server, acpushPutHead(fx.server, fx.token, urls.upload_aci_url!), chunk(half));
    await check.check();
  }

  async function cutPush(order: 'signature first' | 'image first'): Promise<void> {
    const check = await unharmed(fx.server.storageDir);
    const asc = Buffer.concat([Buffer.from(filePart('asc', 'app.aci.asc')), image.asc, Buffer.from('\r\n')]);
    const aciHead = Buffer.from(filePart('aci', 'app.aci'));
    const whole = asc.length + aciHead.length + image.aci.length + `\r\n--${BOUNDARY}--\r\n`.length;
    const half = image.aci.subarray(0, image.aci.length / 2);
    const sent = order === 'signature first' ? Buffer.concat([asc, aciHead, half]) : Buffer.concat([aciHead, half]);
    await hangUpMidBody(fx.server, pushHead(fx.token, whole), sent);
    await check.check();
  }

  it('an acpush image PUT cut by the client mid-body', async () => {
    await cutAcpushImage();
  });

  it('a /-/push cut by the client mid-image, signature first', async () => {
    await cutPush('signature first');
  });

  it('a /-/push cut by the client mid-image, image first', async () => {
    await cutPush('image first');
  });

  it('an acpush image refused while it streams (not an archive)', async () => {
    const check = await unharmed(fx.server.storageDir);
    const urls = await openSession(fx, '1.0.0');
    const socket = await openTo(fx.server);
    socket.on('error', () => undefined);
    const answer = answerOf(socket);
    socket.write(acpushPutHead(fx.server, fx.token, urls.upload_aci_url!));
    // Not an archive: the inspector fails it after its first block, while the client still sends.
    socket.write(chunk(randomBytes(1024 * 1024)));
    await sleep(200);
    socket.end(Buffer.concat([chunk(randomBytes(64 * 1024)), Buffer.from('0\r\n\r\n')]));
    const text = await answer;
    socket.destroy();
    assert.match(text, /^HTTP\/1\.1 200 /, 'a refused part is answered 200 and reported at completion');
    assertNoInternals(text);
    // Completing reports the refusal and removes the session: storage is as before it started.
    const done = await wireRequest(urls.completed_url!, {
      method: 'POST',
      ca: fx.server.caPem,
      auth: { bearer: fx.token },
      body: Buffer.from('{"success":true}'),
    });
    assert.equal(done.status, 200);
    assert.equal(done.json.success, false);
    assert.match(done.json.reason, /^ARCHIVE_/);
    assertNoInternals(done.body.toString());
    await check.check();
  });

  it('many interrupted uploads in a row leave the descriptor count flat', async () => {
    await cutAcpushImage(); // warm: the first of a kind may open lasting descriptors (modules, pools)
    await cutPush('signature first');
    const before = await openDescriptors();
    for (let i = 0; i < 4; i++) {
      await cutAcpushImage();
      await cutPush('signature first');
      await cutPush('image first');
    }
    await until('descriptors are back to where they were', async () => (await openDescriptors()) <= before);
  });
});

describe('closing the server under an upload', () => {
  let fx: AcpushFixture;

  before(async () => {
    fx = await createAcpushFixture({ prefix: PREFIX });
    await fx.keysVisible('/hostile');
  });
  after(() => fx?.close());

  it('ends the staging of an upload mid-body: tmp/ empty, no descriptor', async () => {
    const image = await bigImage(fx, '1.0.0');
    const check = await unharmed(fx.server.storageDir);
    const urls = await openSession(fx, '1.0.0');
    const socket = await openTo(fx.server);
    socket.on('error', () => undefined);
    socket.write(acpushPutHead(fx.server, fx.token, urls.upload_aci_url!));
    socket.write(chunk(image.aci.subarray(0, image.aci.length / 2)));
    await stagingBegun(fx.server);
    // The client stays connected and silent: only the server can end this upload.
    const started = Date.now();
    await fx.server.running.close();
    assert.ok(Date.now() - started < 10_000, 'close does not wait for the stalled upload');
    await check.check();
    socket.destroy();
  });
});

const LIMIT = 3;

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** The open-session gauge of one scrape, and the storage listings the scrape made. */
async function scrapeSessions(fx: AcpushFixture): Promise<{ open: number | undefined; listed: string[] }> {
  const storage = fx.server.running.storage;
  const list = storage.list;
  const listed: string[] = [];
  storage.list = function (prefix, options) {
    listed.push(prefix);
    return list.call(this, prefix, options);
  };
  try {
    const res = await fx.server.request('/-/metrics');
    assert.equal(res.status, 200);
    return { open: sample(res.body.toString(), 'acihost_upload_sessions_open'), listed: listed.filter((p) => p.startsWith('uploads')) };
  } finally {
    storage.list = list;
  }
}

async function refusedAtLimit(fx: AcpushFixture, auth: AcpushAuth = { bearer: fx.token }): Promise<void> {
  const check = await unharmed(fx.server.storageDir);
  const res = await startSession(fx, '2.0.0', auth);
  assert.equal(res.status, 429, res.body.toString());
  assert.equal(res.json.error.code, 'UPLOAD_SESSIONS_LIMIT');
  assert.match(res.json.error.message, new RegExp(`already has ${LIMIT} acpush uploads open .*limits\\.maxUploadSessionsPerToken`));
  assertNoInternals(res.body.toString());
  await check.check();
}

describe(`acpush sessions per token (limits.maxUploadSessionsPerToken = ${LIMIT})`, () => {
  let fx: AcpushFixture;
  let other: string;
  const mine: Record<string, string>[] = [];

  before(async () => {
    fx = await createAcpushFixture({ prefix: PREFIX, config: { limits: { maxUploadSessionsPerToken: LIMIT } } });
    await fx.keysVisible('/hostile');
    other = await fx.createToken(['--prefix', PREFIX]);
  });
  after(() => fx?.close());

  it('refuses a start past the limit with 429, which acpush reports as a failure', async () => {
    for (let i = 0; i < LIMIT; i++) mine.push(await openSession(fx, '2.0.0'));
    await refusedAtLimit(fx);
    const { aci, asc } = await fx.signed({ version: '2.0.0' });
    const r = await fx.acpush({ aci, asc, name: NAME, version: '2.0.0' });
    assert.deepEqual([r.exitCode, r.stderr], [1, 'err: bad HTTP status code: 429']);
    assert.equal(r.parts.length, 0, 'no part is sent after a refused start');
  });

  it('leaves other tokens their own sessions', async () => {
    const res = await startSession(fx, '2.0.0', { bearer: other });
    assert.equal(res.status, 200, res.body.toString());
  });

  it('counts open sessions for the metrics without listing them', async () => {
    const scrape = await scrapeSessions(fx);
    assert.deepEqual(scrape, { open: LIMIT + 1, listed: [] });
  });

  it('frees a slot when an upload finishes', async () => {
    const { aci, asc } = await fx.signed({ version: '2.0.1' });
    await refusedAtLimit(fx);
    // Finishing one (here: the client reports a failure, which discards it) leaves room for one more.
    const report = await wireRequest(mine[0]!.completed_url!, {
      method: 'POST',
      ca: fx.server.caPem,
      auth: { bearer: fx.token },
      body: Buffer.from('{"success":false,"reason":"given up"}'),
    });
    assert.equal(report.status, 200);
    const r = await fx.acpush({ aci, asc, name: NAME, version: '2.0.1' });
    assert.deepEqual([r.exitCode, r.stderr], [0, '']);
    // The published upload's session is gone as well: one slot is free again, and only one.
    await openSession(fx, '2.0.0');
    await refusedAtLimit(fx);
    assert.deepEqual(await scrapeSessions(fx), { open: LIMIT + 1, listed: [] });
  });

  it('keeps the count and the limit across a restart (the sweep recounts from storage)', async () => {
    await fx.server.restart();
    assert.deepEqual(await scrapeSessions(fx), { open: LIMIT + 1, listed: [] });
    await refusedAtLimit(fx);
  });
});

describe('acpush sessions per token, once expired', () => {
  const EXPIRY_SECONDS = 2;
  let fx: AcpushFixture;

  before(async () => {
    fx = await createAcpushFixture({
      prefix: PREFIX,
      config: { limits: { maxUploadSessionsPerToken: 1 }, acpush: { uploadExpirySeconds: EXPIRY_SECONDS } },
    });
    await fx.keysVisible('/hostile');
  });
  after(() => fx?.close());

  it('frees the slot of an abandoned upload once it expires, and the sweep removes it from the count', async () => {
    const before = await unharmed(fx.server.storageDir);
    await openSession(fx, '3.0.0');
    const refused = await startSession(fx, '3.0.0');
    assert.deepEqual([refused.status, refused.json.error.code], [429, 'UPLOAD_SESSIONS_LIMIT']);
    await sleep(EXPIRY_SECONDS * 1000 + 300);
    // Expired, not yet swept: it no longer holds the slot.
    const urls = await openSession(fx, '3.0.0');
    assert.equal((await scrapeSessions(fx)).open, 2);
    await fx.server.running.registry.sweep();
    assert.equal((await scrapeSessions(fx)).open, 1, 'the expired one is swept, the fresh one kept');
    await wireRequest(urls.completed_url!, {
      method: 'POST',
      ca: fx.server.caPem,
      auth: { bearer: fx.token },
      body: Buffer.from('{"success":false}'),
    });
    assert.equal((await scrapeSessions(fx)).open, 0);
    await before.check();
  });
});

describe('a push refused before its body is read', () => {
  let fx: AcpushFixture;

  before(async () => {
    fx = await createAcpushFixture({ prefix: PREFIX, config: { rateLimit: { failedAuthAttempts: 1000 } } });
  });
  after(() => fx?.close());

  /** Sends a 1 GiB body behind `head` until the server closes; resolves with its answer and the bytes it took. */
  async function sendUntilClosed(head: string): Promise<{ answer: string; sent: number }> {
    const socket = await openTo(fx.server);
    socket.on('error', () => undefined);
    let answer = '';
    socket.on('data', (c: Buffer) => (answer += c.toString('utf8')));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(head);
    const block = Buffer.alloc(1024 * 1024);
    let sent = 0;
    let open = true;
    void closed.then(() => (open = false));
    while (open && sent < 1024 ** 3) {
      if (!socket.write(block)) await Promise.race([new Promise((r) => socket.once('drain', r)), closed]);
      sent += block.length;
    }
    await closed;
    return { answer, sent };
  }

  const post = (headers: string) => `POST /-/push HTTP/1.1\r\nHost: localhost\r\n${headers}Content-Length: ${1024 ** 3}\r\n\r\n`;

  for (const [what, headers, status] of [
    ['without a token', `Content-Type: multipart/form-data; boundary=${BOUNDARY}\r\n`, 401],
    ['with a wrong token', `Authorization: Bearer acih_nope_nope\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\n`, 401],
    ['not multipart', 'Authorization: Bearer TOKEN\r\nContent-Type: application/octet-stream\r\n', 400],
  ] as const) {
    it(`${what}: answered ${status} and the connection closed, not the whole body taken in`, async () => {
      const check = await unharmed(fx.server.storageDir);
      const { answer, sent } = await sendUntilClosed(post(headers.replace('TOKEN', fx.token)));
      assert.match(answer, new RegExp(`^HTTP/1\\.1 ${status} `));
      assert.match(answer, /\r\nconnection: close\r\n/i);
      assert.ok(sent < 256 * 1024 * 1024, `the server took ${sent} bytes of a refused body`);
      assertNoInternals(answer);
      await check.check();
    });
  }
});
