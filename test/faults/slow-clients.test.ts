/**
 * Slow and broken clients are cut off after the configured timeouts, leave no
 * partial upload behind, and never stop the server from answering others.
 */
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createFixture, type Fixture } from '../helpers/fixture.ts';
import { scratchFiles } from '../helpers/storage-snapshot.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function openTo(f: Fixture): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: f.server.port, servername: 'localhost', ca: f.server.caPem }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves with the milliseconds until the server closed the socket. */
function closedWithin(socket: TLSSocket, limitMs: number): Promise<number> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still open after ${limitMs} ms`)), limitMs);
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - start);
    });
  });
}

/** Scratch may exist for a moment after a refused upload (the refusal's own bookkeeping); it must not stay. */
async function noScratchLeft(f: Fixture): Promise<void> {
  let left = await scratchFiles(f.server.storageDir);
  for (let i = 0; i < 40 && left.length > 0; i++) {
    await sleep(50);
    left = await scratchFiles(f.server.storageDir);
  }
  assert.deepEqual(left, []);
}

/** Audit events stored so far: a refused push's is written after its connection is gone. */
async function auditEvents(f: Fixture): Promise<number> {
  const files = await readdir(join(f.server.storageDir, 'audit'), { recursive: true }).catch(() => []);
  return files.filter((name) => name.endsWith('.json')).length;
}

async function refusalAudited(f: Fixture, before: number): Promise<void> {
  for (let i = 0; i < 40 && (await auditEvents(f)) === before; i++) await sleep(50);
  assert.equal(await auditEvents(f), before + 1, 'the refused push is audited');
}

/** Starts a push whose body stops after 64 KiB of its 10 MB. */
function stallUpload(socket: TLSSocket, token: string): void {
  const boundary = 'xyz';
  socket.write(
    `POST /-/push HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\n` +
      `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 10000000\r\n\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="aci"; filename="a.aci"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  socket.write(randomBytes(64 * 1024));
}

describe('slow and broken clients', () => {
  let f: Fixture;

  before(async () => {
    f = await createFixture({
      config: {
        server: { headersTimeoutSeconds: 2, idleTimeoutSeconds: 2, keepAliveTimeoutSeconds: 5, minTransferBytesPerSecond: 16 * 1024 },
      },
    });
  });
  after(() => f?.close());

  const open = () => openTo(f);

  async function othersAnswered(): Promise<void> {
    const res = await f.server.request('/?ac-discovery=1');
    assert.equal(res.status, 200);
  }

  it('closes a client that sends its headers a byte at a time', async () => {
    const socket = await open();
    const closed = closedWithin(socket, 8000);
    const drip = (async () => {
      for (const byte of 'GET /?ac-discovery=1 HTTP/1.1\r\nHost: localhost\r\nX-Slow: ' + 'z'.repeat(100)) {
        if (socket.destroyed) return;
        socket.write(byte);
        await sleep(250);
      }
    })();
    await othersAnswered();
    assert.ok((await closed) < 8000);
    await drip;
  });

  it('closes a connection that never sends a request', async () => {
    const socket = await open();
    // One idle window (2 s), judged at the next of the checks run four times a window; the
    // limit leaves room for a loaded machine (the whole suite on two cores).
    assert.ok((await closedWithin(socket, 15000)) >= 1500);
    await othersAnswered();
  });

  it('leaves a keep-alive connection between requests to the keep-alive timeout', async () => {
    const socket = await open();
    const answered = new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.write('GET /?ac-discovery=1 HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await answered;
    // keepAliveTimeoutSeconds is 5 here: past the idle window of 2 s, the connection is still open.
    await sleep(3500);
    assert.equal(socket.destroyed, false, 'closed between requests by the idle check');
    const again = new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.write('GET /?ac-discovery=1 HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await again;
    socket.destroy();
  });

  it('closes an upload that stops midway and removes what it staged', async () => {
    const socket = await open();
    const closed = closedWithin(socket, 8000);
    stallUpload(socket, f.token);
    await othersAnswered();
    await closed;
    await noScratchLeft(f);
  });

  it('closes a download that is read a few bytes at a time', async () => {
    // Bigger than loopback's socket buffers (several MiB), so the server really waits on the reader.
    const pushed = await f.push({ name: 'localhost/slow/app', entries: [{ name: 'rootfs/noise', body: randomBytes(24 * 1024 * 1024) }] });
    assert.equal(pushed.status, 201, pushed.raw);
    const connections = () => new Promise<number>((r, j) => f.server.running.app.server.getConnections((e, n) => (e ? j(e) : r(n))));
    const idle = await connections();
    const socket = await open();
    socket.on('error', () => undefined);
    socket.write('GET /-/aci/localhost/slow/app/1.0.0/linux/amd64.aci HTTP/1.1\r\nHost: localhost\r\n\r\n');
    // Read 100 bytes every half second: alive, but far below the configured floor.
    socket.pause();
    const trickle = setInterval(() => socket.read(100), 500);
    await othersAnswered();
    try {
      // The client still has buffered bytes to read, so watch the server's side of the connection.
      let open_ = await connections();
      for (let i = 0; i < 120 && open_ > idle; i++) {
        await sleep(100);
        open_ = await connections();
      }
      assert.equal(open_, idle, 'the server dropped the crawling download');
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
    const whole = await f.server.request('/-/aci/localhost/slow/app/1.0.0/linux/amd64.aci');
    assert.ok(whole.body.equals(pushed.aci), 'a normal client still gets the image');
  });
});

describe('idle connections with the transfer floor off', () => {
  let f: Fixture;
  before(async () => {
    f = await createFixture({ config: { server: { idleTimeoutSeconds: 2, minTransferBytesPerSecond: 0 } } });
  });
  after(() => f?.close());

  it('closes an upload that stops midway after the idle timeout', async () => {
    const audited = await auditEvents(f);
    const socket = await openTo(f);
    const closed = closedWithin(socket, 8000);
    stallUpload(socket, f.token);
    assert.ok((await closed) >= 1500);
    await noScratchLeft(f);
    await refusalAudited(f, audited);
  });

  it('keeps a slow upload that keeps moving', async () => {
    const audited = await auditEvents(f);
    const socket = await openTo(f);
    socket.on('error', () => undefined);
    stallUpload(socket, f.token);
    // A few bytes every half second for twice the idle window: slow, but never idle.
    for (let i = 0; i < 9; i++) {
      await sleep(500);
      assert.equal(socket.destroyed, false, `closed after ${i * 500} ms while bytes were moving`);
      socket.write(randomBytes(16));
    }
    socket.destroy();
    await noScratchLeft(f);
    await refusalAudited(f, audited);
  });
});
