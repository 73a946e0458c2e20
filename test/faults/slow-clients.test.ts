/**
 * Slow and broken clients are cut off after the configured timeouts, leave no
 * partial upload behind, and never stop the server from answering others.
 */
import { randomBytes } from 'node:crypto';
import { connect, type TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createFixture, type Fixture } from '../helpers/fixture.ts';
import { scratchFiles } from '../helpers/storage-snapshot.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('slow and broken clients', () => {
  let f: Fixture;

  before(async () => {
    f = await createFixture({
      config: { server: { headersTimeoutSeconds: 2, idleTimeoutSeconds: 2, minTransferBytesPerSecond: 16 * 1024 } },
    });
  });
  after(() => f?.close());

  function open(): Promise<TLSSocket> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: f.server.port, servername: 'localhost', ca: f.server.caPem }, () =>
        resolve(socket),
      );
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

  it('closes an upload that stops midway and removes what it staged', async () => {
    const socket = await open();
    const closed = closedWithin(socket, 8000);
    const boundary = 'xyz';
    socket.write(
      `POST /-/push HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${f.token}\r\n` +
        `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 10000000\r\n\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="aci"; filename="a.aci"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    );
    socket.write(randomBytes(64 * 1024));
    await othersAnswered();
    await closed;
    // Scratch may exist for a moment (the refusal's own bookkeeping); it must not stay.
    let left = await scratchFiles(f.server.storageDir);
    for (let i = 0; i < 40 && left.length > 0; i++) {
      await sleep(50);
      left = await scratchFiles(f.server.storageDir);
    }
    assert.deepEqual(left, []);
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
