/**
 * Protocol answers to hostile and broken requests: every refusal, including
 * those Node and Fastify make before any route runs, is JSON in the one error
 * shape with a documented code and no internals; a live client is never told
 * 499; a push's extra parts are named; byte ranges follow RFC 9110.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promisify } from 'node:util';
import type { ErrorCode } from '../../src/error-codes.ts';
import { statusOfCode } from '../../src/http/error-table.ts';
import { buildAci } from '../helpers/aci-builder.ts';
import { createFixture, type Fixture } from '../helpers/fixture.ts';
import { curlPush } from '../helpers/push.ts';
import { assertNoInternals, unharmed } from './support.ts';

const run = promisify(execFile);

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Writes bytes as they are over one TLS connection and reads the one answer (until the server closes). */
function rawRequest(f: Fixture, data: string | Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: f.server.port, servername: 'localhost', ca: f.server.caPem });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error('no answer within 10 s')), 10_000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    // A server that answers and closes while the request is still being written resets it; the answer counts.
    socket.on('error', (e) => (chunks.length === 0 ? reject(e) : undefined));
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const cut = text.indexOf('\r\n\r\n');
      if (cut === -1) return reject(new Error(`no HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
      const [statusLine, ...lines] = text.slice(0, cut).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, body: text.slice(cut + 4) });
    });
    socket.once('secureConnect', () => socket.write(data));
  });
}

/** The documented error shape, and only it: the code with the status the catalogue gives it, a message saying what to do, no internals. */
function assertErrorShape(
  res: { status: number; headers: Record<string, unknown>; body: string | Buffer },
  status: number,
  code: ErrorCode,
): void {
  const body = String(res.body);
  assert.equal(statusOfCode(code), status, `the documented status of ${code}`);
  assert.equal(res.status, status, body);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const json = JSON.parse(body);
  assert.deepEqual(Object.keys(json), ['error'], body);
  assert.deepEqual(Object.keys(json.error).sort(), ['code', 'message'], body);
  assert.equal(json.error.code, code, body);
  assert.ok(json.error.message.length > 20, `the message says what to do: ${body}`);
  assertNoInternals(body);
  assert.doesNotMatch(body, /FST_|statusCode|busboy|needle/i, 'no framework internals');
}

describe('protocol answers', () => {
  let f: Fixture;
  let aci: Buffer;
  let aciPath: string;
  let ascPath: string;
  const image = 'localhost/proto/app';

  before(async () => {
    // A short headers timeout, so a stalled request is refused within the test.
    f = await createFixture({ config: { server: { headersTimeoutSeconds: 2 } } });
    const pushed = await f.push({ name: image, version: '1.0.0' });
    assert.equal(pushed.status, 201, pushed.raw);
    aci = pushed.aci;
    // A second signed image, kept as files for the pushes below.
    aciPath = join(f.server.dir, 'two.aci');
    await writeFile(aciPath, await buildAci({ name: image, version: '2.0.0' }));
    ascPath = await f.gpg.signFile(aciPath, f.key.fingerprint);
  });
  after(() => f?.close());

  const auth = () => `Authorization: Bearer ${f.token}\r\n`;

  describe('malformed multipart pushes answer 400 to a client still waiting, not 499', () => {
    const cases: { name: string; contentType: string; body: string; code: ErrorCode }[] = [
      { name: 'multipart without a boundary', contentType: 'multipart/form-data', body: 'hello', code: 'PUSH_NOT_MULTIPART' },
      {
        name: 'an overlong boundary',
        contentType: `multipart/form-data; boundary=${'b'.repeat(300)}`,
        body: `--${'b'.repeat(300)}\r\n`,
        code: 'PUSH_NOT_MULTIPART',
      },
      {
        name: 'a garbage body',
        contentType: 'multipart/form-data; boundary=xyz',
        body: 'garbage, no boundary anywhere',
        code: 'PUSH_MULTIPART_MALFORMED',
      },
      {
        name: 'a body cut before its closing boundary',
        contentType: 'multipart/form-data; boundary=xyz',
        body: '--xyz\r\nContent-Disposition: form-data; name="asc"\r\n\r\nnot all there',
        code: 'PUSH_MULTIPART_MALFORMED',
      },
      {
        name: 'a file part cut short',
        contentType: 'multipart/form-data; boundary=xyz',
        body: '--xyz\r\nContent-Disposition: form-data; name="aci"; filename="a.aci"\r\nContent-Type: application/octet-stream\r\n\r\n\x1f\x8b',
        code: 'UPLOAD_ABORTED',
      },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const storage = await unharmed(f.server.storageDir);
        const res = await f.server.request('/-/push', {
          method: 'POST',
          headers: { authorization: `Bearer ${f.token}`, 'content-type': c.contentType },
          body: Buffer.from(c.body, 'latin1'),
        });
        assertErrorShape({ ...res, body: res.body }, 400, c.code);
        await storage.check();
      });
    }
  });

  describe('a push with a part beyond asc and aci answers 400 PUSH_UNEXPECTED_PART naming it', () => {
    const cases: { name: string; extra: () => string[]; part: string }[] = [
      { name: 'a third file part', extra: () => ['-F', `zzz=@${aciPath}`], part: 'zzz' },
      { name: 'a field part', extra: () => ['-F', 'note=hello'], part: 'note' },
      { name: 'a second image', extra: () => ['-F', `aci=@${aciPath}`], part: 'aci' },
      { name: 'a second signature', extra: () => ['-F', `asc=@${ascPath}`], part: 'asc' },
      { name: 'many small parts at once', extra: () => ['-F', 'a=1', '-F', 'b=2', '-F', 'c=3', '-F', 'd=4'], part: 'a' },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const storage = await unharmed(f.server.storageDir);
        const res = await curlPush({
          origin: f.server.origin,
          caFile: f.server.caFile,
          token: f.token,
          aci: aciPath,
          asc: ascPath,
          extraArgs: c.extra(),
        });
        assert.equal(res.status, 400, res.raw);
        assert.equal(res.json?.error?.code, 'PUSH_UNEXPECTED_PART', res.raw);
        assert.match(res.json.error.message, new RegExp(`"${c.part}"`));
        assert.match(res.json.error.message, /\basc\b.*\baci\b/, 'names the expected parts');
        assertNoInternals(res.raw);
        await storage.check();
      });
    }
  });

  it('a server failure after the body is read answers 500 INTERNAL to the waiting client', async () => {
    // The blob volume turns read-only: the upload stages fine, and publishing it fails after the body is read.
    const blobs = join(f.server.storageDir, 'blobs');
    await mkdir(blobs, { recursive: true });
    const storage = await unharmed(f.server.storageDir);
    await run('mount', ['--bind', blobs, blobs]);
    try {
      await run('mount', ['-o', 'remount,ro,bind', blobs]);
      const res = await curlPush({ origin: f.server.origin, caFile: f.server.caFile, token: f.token, aci: aciPath, asc: ascPath });
      assert.equal(res.status, 500, res.raw);
      assert.equal(res.json?.error?.code, 'INTERNAL', res.raw);
      assert.match(res.json.error.message, /request id req-\w+/);
      assertNoInternals(res.raw);
      assert.doesNotMatch(res.raw, /EROFS|read-only|blobs/i);
    } finally {
      await run('umount', [blobs]);
    }
    await storage.check();
    const again = await curlPush({ origin: f.server.origin, caFile: f.server.caFile, token: f.token, aci: aciPath, asc: ascPath });
    assert.equal(again.status, 201, `the next push lands: ${again.raw}`);
  });

  describe('refusals made before any route runs share the error shape', () => {
    const get = (target: string, extra = '') => `GET ${target} HTTP/1.1\r\nHost: localhost\r\n${extra}Connection: close\r\n\r\n`;
    const post = (target: string, headers: string, body = '') =>
      `POST ${target} HTTP/1.1\r\nHost: localhost\r\n${headers}Connection: close\r\n\r\n${body}`;
    const cases: { name: string; request: () => string; status: number; code: ErrorCode }[] = [
      { name: 'an unknown method', request: () => 'FOO / HTTP/1.1\r\nHost: localhost\r\n\r\n', status: 400, code: 'HTTP_MALFORMED' },
      { name: 'a request line that is not HTTP', request: () => 'hello there\r\n\r\n', status: 400, code: 'HTTP_MALFORMED' },
      {
        name: 'a Content-Length that is no number',
        request: () => post('/', 'Content-Length: abc\r\n'),
        status: 400,
        code: 'HTTP_MALFORMED',
      },
      {
        name: 'two Content-Lengths',
        request: () => post('/', 'Content-Length: 1\r\nContent-Length: 2\r\n', 'x'),
        status: 400,
        code: 'HTTP_MALFORMED',
      },
      { name: 'headers too large', request: () => get('/', `X-Big: ${'a'.repeat(20_000)}\r\n`), status: 431, code: 'HEADERS_TOO_LARGE' },
      { name: 'a URI longer than the header limit', request: () => get(`/${'a'.repeat(20_000)}`), status: 431, code: 'HEADERS_TOO_LARGE' },
      {
        name: 'a URL segment longer than any issued',
        request: () =>
          `PUT /-/acpush/uploads/${'a'.repeat(150)}/aci HTTP/1.1\r\nHost: localhost\r\n${auth()}Content-Length: 0\r\nConnection: close\r\n\r\n`,
        status: 414,
        code: 'URI_TOO_LONG',
      },
      // A path that does not decode names nothing: 404, also where acpush would read 400 as success.
      { name: 'a bad percent-encoding', request: () => get('/-/api/images/%zz'), status: 404, code: 'NOT_FOUND' },
      {
        name: 'a bad percent-encoding in an acpush URL',
        request: () =>
          `PUT /-/acpush/uploads/%zz/aci HTTP/1.1\r\nHost: localhost\r\n${auth()}Content-Length: 0\r\nConnection: close\r\n\r\n`,
        status: 404,
        code: 'NOT_FOUND',
      },
      { name: 'an API path nothing answers', request: () => get('/-/api/nothing'), status: 404, code: 'API_NOT_FOUND' },
      {
        name: 'a method no route takes',
        request: () => 'PATCH / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
        status: 404,
        code: 'NOT_FOUND',
      },
      {
        name: 'a body over the JSON limit',
        request: () => post('/-/api/images', 'Content-Type: application/json\r\nContent-Length: 5000000\r\n', '{"a":'),
        status: 413,
        code: 'BODY_TOO_LARGE',
      },
      {
        name: 'a Content-Type that is no media type',
        request: () => post('/-/api/images', 'Content-Type: ;;;\r\nContent-Length: 3\r\n', 'abc'),
        status: 415,
        code: 'MEDIA_TYPE_UNSUPPORTED',
      },
      {
        name: 'invalid JSON',
        request: () => post('/-/api/images', 'Content-Type: application/json\r\nContent-Length: 3\r\n', '{x}'),
        status: 400,
        code: 'JSON_BODY_INVALID',
      },
      {
        name: 'an empty JSON body',
        request: () =>
          `DELETE /-/api/images/${image}/9.9.9/linux/amd64 HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
        status: 400,
        code: 'JSON_BODY_EMPTY',
      },
      { name: 'headers that never end', request: () => 'GET / HTTP/1.1\r\nHost: localhost\r\n', status: 408, code: 'REQUEST_TIMEOUT' },
    ];
    for (const c of cases) {
      it(`${c.status} for ${c.name}`, async () => {
        const res = await rawRequest(f, c.request());
        assertErrorShape(res, c.status, c.code);
      });
    }
  });
  describe('byte ranges follow RFC 9110 for .aci, .aci.asc and pubkeys.gpg', () => {
    // Each case gets the file's length: the expected status and, for 206, the selected bytes.
    const cases: { range: (len: number) => string; expect: (len: number) => 200 | 416 | [number, number] }[] = [
      { range: () => 'bytes=0-9', expect: () => [0, 9] },
      { range: () => 'bytes=-5', expect: (len) => [len - 5, len - 1] },
      // A suffix longer than the file selects all of it (§14.1.2).
      { range: (len) => `bytes=-${len + 1000}`, expect: (len) => [0, len - 1] },
      { range: () => 'bytes=-99999999999999999999999', expect: (len) => [0, len - 1] },
      // A last position past the end is clipped.
      { range: (len) => `bytes=0-${len + 100}`, expect: (len) => [0, len - 1] },
      { range: (len) => `bytes=${len - 3}-${len * 2}`, expect: (len) => [len - 3, len - 1] },
      { range: (len) => `bytes=${len - 1}-`, expect: (len) => [len - 1, len - 1] },
      // A first position at or past the end, or an empty suffix, is unsatisfiable (416 with bytes */len).
      { range: (len) => `bytes=${len}-`, expect: () => 416 },
      { range: (len) => `bytes=${len + 10}-${len + 20}`, expect: () => 416 },
      { range: () => 'bytes=-0', expect: () => 416 },
      { range: (len) => `bytes=${len + 1}-, -0`, expect: () => 416 },
      // An unsatisfiable range beside a satisfiable one is dropped.
      { range: (len) => `bytes=0-4, ${len + 10}-`, expect: () => [0, 4] },
      // Overlapping or adjacent ranges are one; ranges that do not join get the whole file.
      { range: () => 'bytes=0-4,5-9', expect: () => [0, 9] },
      { range: () => 'bytes=3-8, 0-5', expect: () => [0, 8] },
      { range: () => 'bytes=0-1,5-6', expect: () => 200 },
      // Units are case-insensitive; another unit or invalid syntax is ignored.
      { range: () => 'BYTES=0-9', expect: () => [0, 9] },
      { range: () => 'items=0-9', expect: () => 200 },
      { range: () => 'bytes=9-2', expect: () => 200 },
      { range: () => 'bytes=abc', expect: () => 200 },
      { range: () => 'bytes=', expect: () => 200 },
      { range: () => 'bytes=1-2-3', expect: () => 200 },
      { range: () => 'bytes=0x10-20', expect: () => 200 },
      { range: () => 'bytes 0-9', expect: () => 200 },
    ];
    const files = () => [
      { path: `/-/aci/${image}/1.0.0/linux/amd64.aci`, what: '.aci' },
      { path: `/-/aci/${image}/1.0.0/linux/amd64.aci.asc`, what: '.aci.asc' },
      { path: '/pubkeys.gpg', what: 'pubkeys.gpg' },
    ];
    for (const what of ['.aci', '.aci.asc', 'pubkeys.gpg']) {
      it(what, async () => {
        const { path } = files().find((x) => x.what === what)!;
        const whole = await f.server.request(path);
        assert.equal(whole.status, 200);
        if (what === '.aci') assert.ok(whole.body.equals(aci));
        const len = whole.body.length;
        for (const c of cases) {
          const range = c.range(len);
          const res = await f.server.request(path, { headers: { range } });
          const expected = c.expect(len);
          const label = `${what} Range: ${range}`;
          if (expected === 200) {
            assert.equal(res.status, 200, label);
            assert.ok(res.body.equals(whole.body), label);
            assert.equal(res.headers['content-range'], undefined, label);
          } else if (expected === 416) {
            assertErrorShape({ ...res, body: res.body }, 416, 'RANGE_NOT_SATISFIABLE');
            assert.equal(res.headers['content-range'], `bytes */${len}`, label);
          } else {
            const [start, end] = expected;
            assert.equal(res.status, 206, label);
            assert.equal(res.headers['content-range'], `bytes ${start}-${end}/${len}`, label);
            assert.equal(Number(res.headers['content-length']), end - start + 1, label);
            assert.ok(res.body.equals(whole.body.subarray(start, end + 1)), label);
          }
        }
      });
    }
  });
});
