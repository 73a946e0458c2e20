/**
 * Compact decompression bombs (a few KB that unpack to gigabytes) and one token
 * sending many uploads at once. A bomb is answered 413 on every front door even
 * when decoding it takes the server longer than the slow-client window, and once
 * it is answered or abandoned no decoder runs on and no CPU is spent for it. A
 * token past its concurrent uploads is answered 429 until one of them ends.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { reserializeManifest, wireRequest } from '../helpers/acpush-client.ts';
import { createAcpushFixture, type AcpushFixture } from '../helpers/acpush-fixture.ts';
import { buildAci, manifestJson } from '../helpers/aci-builder.ts';
import { buildBomb, type BombFormat } from '../helpers/bomb.ts';
import { curlPush, type CurlResult } from '../helpers/push.ts';
import { scratchFiles } from '../helpers/storage-snapshot.ts';
import { assertNoInternals, unharmed } from './support.ts';

const MiB = 1024 * 1024;
const FORMATS: BombFormat[] = ['xz', 'bzip2', 'gzip'];

/** The decoders (xz, bzip2) started by this process, the server's, that are still running. */
async function decoderChildren(): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const m = /^\d+ \((.*)\) (\S) (\d+) /.exec(stat);
    if (m && Number(m[3]) === process.pid && ['xz', 'bzip2'].includes(m[1]!) && m[2] !== 'Z') found.push(`${m[1]} ${pid}`);
  }
  return found;
}

/** No decoder child is left within a short bound, and the process then stays idle for a second. */
async function decodingStopped(): Promise<void> {
  let left = await decoderChildren();
  for (const deadline = Date.now() + 3000; left.length > 0 && Date.now() < deadline; left = await decoderChildren()) await sleep(50);
  assert.deepEqual(left, [], 'decoders still running once the request ended');
  const start = process.cpuUsage();
  await sleep(1000);
  const used = process.cpuUsage(start);
  const ms = (used.user + used.system) / 1000;
  assert.ok(ms < 250, `${Math.round(ms)} ms of CPU spent in the second after the request ended`);
}

/** Runs `work` while sampling this process's resident memory; returns its result and the peak growth. */
async function rssGrowth<T>(work: () => Promise<T>): Promise<[T, number]> {
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  try {
    return [await work(), peak - base];
  } finally {
    clearInterval(timer);
  }
}

function assertUncompressedCap(res: CurlResult): void {
  assert.equal(res.status, 413, res.raw);
  assert.equal(res.json.error.code, 'UNCOMPRESSED_TOO_LARGE');
  assert.match(res.json.error.message, /larger than this server's limit of \d+ bytes; make the image smaller/);
  assertNoInternals(res.raw);
}

describe('decompression bombs', () => {
  // Twice the cap; decoding to the cap takes longer than the one-second slow-client window.
  const CAP = 256 * MiB;
  const files = new Map<BombFormat, { aci: string; asc: string; bytes: Buffer }>();
  let f: AcpushFixture;

  before(async () => {
    f = await createAcpushFixture({
      prefix: 'localhost/bomb',
      config: { server: { idleTimeoutSeconds: 1, minTransferBytesPerSecond: 16 * 1024 }, limits: { maxUncompressedBytes: CAP } },
    });
    for (const format of FORMATS) {
      const bytes = await buildBomb({ format, bytes: 2 * CAP, name: `localhost/bomb/${format}`, version: '1.0.0' });
      assert.ok(bytes.length < 1 * MiB, `the ${format} bomb is compact`);
      const aci = join(f.server.dir, `bomb.${format}.aci`);
      await writeFile(aci, bytes);
      files.set(format, { aci, asc: await f.gpg.signFile(aci, f.key.fingerprint), bytes });
    }
    await f.keysVisible('/bomb');
  });
  after(() => f?.close());

  const push = (format: BombFormat, ascFirst: boolean) =>
    curlPush({ origin: f.server.origin, caFile: f.server.caFile, token: f.token, ...files.get(format)!, ascFirst });

  for (const format of FORMATS) {
    for (const ascFirst of [true, false]) {
      it(`answers a ${format} bomb pushed with curl, ${ascFirst ? 'signature' : 'image'} first, with 413 and stops decoding`, async () => {
        const u = await unharmed(f.server.storageDir);
        const [res, growth] = await rssGrowth(() => push(format, ascFirst));
        assertUncompressedCap(res);
        assert.ok(growth < 200 * MiB, `resident memory grew by ${Math.round(growth / MiB)} MiB`);
        await decodingStopped();
        await u.check();
      });
    }

    it(`refuses a ${format} bomb sent by acpush at completion and stops decoding`, async () => {
      const u = await unharmed(f.server.storageDir);
      const name = `localhost/bomb/${format}`;
      const { bytes, asc } = files.get(format)!;
      const [r, growth] = await rssGrowth(async () =>
        f.acpush({
          aci: bytes,
          asc: await readFile(asc),
          name,
          version: '1.0.0',
          os: 'linux',
          arch: 'amd64',
          // acpush would read the manifest from the image; this one must never be unpacked in the test.
          manifest: reserializeManifest(Buffer.from(manifestJson(name, '1.0.0'))),
        }),
      );
      assert.deepEqual(
        r.parts.map((p) => [p.part, p.status]),
        [
          ['manifest', 200],
          ['signature', 200],
          ['aci', 200],
        ],
      );
      assert.equal(r.completion!.status, 200);
      assert.deepEqual([r.exitCode, r.completion!.json.success, r.completion!.json.reason], [1, false, 'UNCOMPRESSED_TOO_LARGE']);
      assert.match(r.stderr, /^err: UNCOMPRESSED_TOO_LARGE: the aci part was refused: .*larger than this server's limit/);
      assertNoInternals(r.completion!.body.toString());
      assert.ok(growth < 200 * MiB, `resident memory grew by ${Math.round(growth / MiB)} MiB`);
      await decodingStopped();
      await u.check();
    });
  }

  it('does not take a server reading slowly while it decodes for a slow client', async () => {
    // The bomb, then 32 MiB more of the same part: the body is still arriving while the
    // server, busy decoding, has stopped reading it, for longer than the slow-client window.
    const u = await unharmed(f.server.storageDir);
    const aci = join(f.server.dir, 'bomb-trailing.aci');
    await writeFile(aci, Buffer.concat([files.get('xz')!.bytes, randomBytes(32 * MiB)]));
    const asc = await f.gpg.signFile(aci, f.key.fingerprint);
    const res = await curlPush({ origin: f.server.origin, caFile: f.server.caFile, token: f.token, aci, asc });
    assertUncompressedCap(res);
    await decodingStopped();
    await u.check();
  });
});

/** Opens a TLS connection to the fixture's server. */
function openTo(f: AcpushFixture): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: f.server.port, servername: 'localhost', ca: f.server.caPem }, () => resolve(socket));
    socket.once('error', reject);
  });
}

describe('abandoned bombs', () => {
  let f: AcpushFixture;

  before(async () => {
    // The default caps: a bomb takes the server far longer to decode to them than the test waits.
    f = await createAcpushFixture({ prefix: 'localhost/bomb' });
  });
  after(() => f?.close());

  for (const format of FORMATS) {
    it(`stops decoding a ${format} bomb whose client hangs up`, async () => {
      const u = await unharmed(f.server.storageDir);
      const bytes = await buildBomb({ format, bytes: 1024 * MiB, name: `localhost/bomb/${format}`, version: '1.0.0' });
      const aci = join(f.server.dir, `abandoned.${format}.aci`);
      await writeFile(aci, bytes);
      const asc = await f.gpg.signFile(aci, f.key.fingerprint);
      const curl = spawn(
        'curl',
        [
          '--silent',
          '--cacert',
          f.server.caFile,
          '-H',
          `Authorization: Bearer ${f.token}`,
          '-F',
          `asc=@${asc}`,
          '-F',
          `aci=@${aci}`,
          `${f.server.origin}/-/push`,
        ],
        { stdio: 'ignore' },
      );
      const exited = new Promise((resolve) => curl.once('exit', resolve));
      // Hang up once the server is staging and decoding the upload.
      while ((await scratchFiles(f.server.storageDir)).length === 0) await sleep(20);
      await sleep(300);
      curl.kill('SIGKILL');
      await exited;
      await decodingStopped();
      await u.check();
    });
  }
});

describe('concurrent uploads per token', () => {
  const LIMIT = 2;
  let f: AcpushFixture;
  let other: string;
  let version = 0;
  const held: TLSSocket[] = [];

  before(async () => {
    f = await createAcpushFixture({ prefix: 'localhost/many', config: { limits: { maxConcurrentUploadsPerToken: LIMIT } } });
    other = await f.createToken(['--prefix', 'localhost/many']);
    await f.keysVisible('/many');
  });
  afterEach(async () => {
    // A failed case must not leave its held uploads to the next one.
    for (const socket of held.splice(0)) socket.destroy();
    for (let i = 0; i < 100 && (await scratchFiles(f.server.storageDir)).length > 0; i++) await sleep(50);
  });
  after(() => f?.close());

  /** Starts a push whose image part stops after its first 64 KiB; resolves once the server is staging it. */
  async function holdUpload(token: string): Promise<TLSSocket> {
    const staging = (await scratchFiles(f.server.storageDir)).length;
    const aci = await buildAci({ name: 'localhost/many/held', entries: [{ name: 'rootfs/noise', body: randomBytes(1 * MiB) }] });
    const socket = await openTo(f);
    socket.on('error', () => undefined);
    held.push(socket);
    const boundary = 'held-upload';
    socket.write(
      `POST /-/push HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\n` +
        `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${aci.length + 1000}\r\n\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="aci"; filename="a.aci"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    );
    socket.write(aci.subarray(0, 64 * 1024));
    for (const deadline = Date.now() + 10_000; (await scratchFiles(f.server.storageDir)).length <= staging; await sleep(20)) {
      assert.ok(Date.now() < deadline, 'the server never began staging the held upload');
    }
    return socket;
  }

  /** Hangs up a held upload and waits for the server to drop what it staged. */
  async function abandon(socket: TLSSocket): Promise<void> {
    const staging = (await scratchFiles(f.server.storageDir)).length;
    socket.destroy();
    for (const deadline = Date.now() + 5000; (await scratchFiles(f.server.storageDir)).length >= staging; await sleep(20)) {
      assert.ok(Date.now() < deadline, 'the server kept the abandoned upload');
    }
  }

  async function pushAs(token: string): Promise<CurlResult> {
    const v = `1.0.${++version}`;
    const aci = join(f.server.dir, `many-${v}.aci`);
    await writeFile(aci, await buildAci({ name: 'localhost/many/app', version: v }));
    const asc = await f.gpg.signFile(aci, f.key.fingerprint);
    return curlPush({ origin: f.server.origin, caFile: f.server.caFile, token, aci, asc });
  }

  function assertLimited(status: number, body: any): void {
    assert.equal(status, 429);
    assert.equal(body.error.code, 'UPLOADS_CONCURRENCY_LIMIT');
    assert.match(body.error.message, /already sending 2 uploads.*wait for one of them to finish/);
    assertNoInternals(JSON.stringify(body));
  }

  it('answers 429 to one upload past the limit, by curl or acpush, and stores nothing', async () => {
    const u = await unharmed(f.server.storageDir);
    const sockets = [await holdUpload(f.token), await holdUpload(f.token)];
    const refused = await pushAs(f.token);
    assertLimited(refused.status, refused.json);

    const { aci, asc } = await f.signed({ version: '2.0.0' });
    const r = await f.acpush({ aci, asc, name: 'localhost/many/app', version: '2.0.0' });
    assert.deepEqual(r.parts, [{ part: 'manifest', status: 429 }]);
    assert.deepEqual([r.exitCode, r.stderr], [1, 'err: error uploading manifest: bad HTTP status code: 429']);
    assert.equal(r.completion!.status, 200, 'the failure report is answered');

    // The part's answer itself, as a client other than acpush reads it.
    const start = await wireRequest(`${f.server.origin}/-/acpush/start/localhost/many/app/3.0.0/linux/amd64.aci`, {
      method: 'POST',
      ca: f.server.caPem,
      auth: { bearer: f.token },
      body: Buffer.alloc(0),
    });
    assert.equal(start.status, 200);
    const put = await wireRequest(start.json.upload_aci_url, { method: 'PUT', ca: f.server.caPem, auth: { bearer: f.token }, body: aci });
    assertLimited(put.status, put.json);
    const discarded = await wireRequest(start.json.completed_url, {
      method: 'POST',
      ca: f.server.caPem,
      auth: { bearer: f.token },
      body: Buffer.from('{"success":false,"reason":"limited"}'),
    });
    assert.equal(discarded.status, 200);

    for (const socket of sockets) await abandon(socket);
    await u.check();
  });

  it("does not limit another token by this one's uploads", async () => {
    const sockets = [await holdUpload(f.token), await holdUpload(f.token)];
    const res = await pushAs(other);
    assert.equal(res.status, 201, res.raw);
    for (const socket of sockets) await abandon(socket);
  });

  it('frees the slot of an upload that is published, refused or abandoned', async () => {
    const first = await holdUpload(f.token);
    // One slot left: it is taken and given back by each of these in turn.
    for (let i = 0; i < 3; i++) assert.equal((await pushAs(f.token)).status, 201);
    const aci = join(f.server.dir, 'unsigned-garbage.aci');
    await writeFile(aci, randomBytes(4096));
    const garbage = await curlPush({ origin: f.server.origin, caFile: f.server.caFile, token: f.token, aci, asc: aci });
    assert.equal(garbage.status, 422, garbage.raw);
    assert.equal((await pushAs(f.token)).status, 201);

    const second = await holdUpload(f.token);
    assertLimited(...(await pushAs(f.token).then((r) => [r.status, r.json] as const)));
    await abandon(second);
    const after = await pushAs(f.token);
    assert.equal(after.status, 201, after.raw);
    await abandon(first);
  });
});
