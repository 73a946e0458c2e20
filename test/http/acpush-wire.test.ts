/**
 * The replaying client (test/helpers/acpush-client.ts) against a raw TLS server
 * that records every byte: the requests must be those that acpush 0.0.1 sent in
 * docs/acpush-wire.md §1a (heads, framing, connections) and the
 * re-serialised manifest of §1c, so the acpush tests exercise what the real client
 * sends. Only `Host` differs: this server is not on 443, so it carries the port.
 */
import { createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { acpush, reserializeManifest, wireRequest } from '../helpers/acpush-client.ts';
import { buildAci } from '../helpers/aci-builder.ts';
import { createTestCertificate } from '../helpers/tls.ts';

interface Recorded {
  connection: number;
  raw: Buffer;
}

/** Splits one buffered HTTP/1.1 request off the front, or returns null until it is whole. */
function takeRequest(buf: Buffer): { raw: Buffer; line: string } | null {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) return null;
  const head = buf.subarray(0, headEnd).toString('latin1');
  let end = headEnd + 4;
  const length = /\r\ncontent-length: (\d+)/i.exec(head);
  if (/\r\ntransfer-encoding: chunked/i.test(head)) {
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', end);
      if (lineEnd < 0) return null;
      const size = parseInt(buf.subarray(end, lineEnd).toString('latin1'), 16);
      end = lineEnd + 2 + size + 2;
      if (end > buf.length) return null;
      if (size === 0) break;
    }
  } else if (length) end += Number(length[1]);
  if (end > buf.length) return null;
  return { raw: buf.subarray(0, end), line: head.slice(0, head.indexOf('\r\n')) };
}

describe('the replaying acpush client on the wire', () => {
  const recorded: Recorded[] = [];
  let origin: string;
  let ca: string;
  let close: () => Promise<void>;

  before(async () => {
    const cert = await createTestCertificate(['localhost']);
    ca = cert.caPem;
    let connections = 0;
    const server = createServer({ cert: cert.certPem, key: cert.keyPem }, (socket: TLSSocket) => {
      const connection = ++connections;
      let buf = Buffer.alloc(0);
      socket.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        for (let req = takeRequest(buf); req; req = takeRequest(buf)) {
          buf = buf.subarray(req.raw.length);
          recorded.push({ connection, raw: Buffer.from(req.raw) });
          const body = answer(req.line);
          socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
        }
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `https://localhost:${(server.address() as AddressInfo).port}`;
    close = () => new Promise((r) => server.close(() => r()));
  });
  after(() => close?.());

  function answer(line: string): string {
    if (line.includes('?ac-discovery=1')) {
      return [
        `<meta name="ac-discovery" content="localhost/demo ${origin}/{name}-{version}-{os}-{arch}.{ext}">`,
        `<meta name="ac-discovery-pubkeys" content="localhost/demo ${origin}/pubkeys.gpg">`,
        `<meta name="ac-push-discovery" content="localhost/demo ${origin}/push/{name}-{version}-{os}-{arch}.{ext}/startupload">`,
      ].join('\n');
    }
    if (line.startsWith('POST /push/')) {
      const u = (p: string) => `${origin}/upload/1/${p}`;
      return JSON.stringify({
        aci_push_version: '0.0.1',
        multipart: false,
        upload_manifest_url: u('manifest'),
        upload_signature_url: u('signature'),
        upload_aci_url: u('aci'),
        completed_url: u('complete'),
      });
    }
    return line.startsWith('POST /upload/1/complete') ? '{"success": true}' : '{}';
  }

  it('sends the six requests of acpush-wire.md 1a, byte for byte, on the same connections', async () => {
    const aci = await buildAci({ name: 'localhost/demo/app', version: '1.0.0' });
    const asc = Buffer.alloc(659, 'a');
    const r = await acpush({
      origin,
      ca,
      aci,
      asc,
      name: 'localhost/demo/app',
      version: '1.0.0',
      auth: { basic: { user: 'ci', password: 'SECRET' } },
    });
    assert.equal(r.exitCode, 0, r.stderr);
    const host = new URL(origin).host;
    const head = (line: string, extra: string[]) =>
      [line, `Host: ${host}`, 'User-Agent: Go-http-client/1.1', ...extra, 'Accept-Encoding: gzip', '', ''].join('\r\n');
    const auth = 'Authorization: Basic Y2k6U0VDUkVU';
    const manifest =
      '{"acKind":"ImageManifest","acVersion":"0.8.11","name":"localhost/demo/app","labels":[{"name":"version","value":"1.0.0"},{"name":"os","value":"linux"},{"name":"arch","value":"amd64"}]}';
    const chunked = (body: Buffer) => Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
    const expected: [number, Buffer][] = [
      [1, Buffer.from(head('GET /demo/app?ac-discovery=1 HTTP/1.1', []))],
      [2, Buffer.from(head('POST /push/localhost/demo/app-1.0.0-linux-amd64.aci/startupload HTTP/1.1', ['Content-Length: 0', auth]))],
      [2, Buffer.from(head('PUT /upload/1/manifest HTTP/1.1', ['Content-Length: 183', auth]) + manifest)],
      [3, Buffer.concat([Buffer.from(head('PUT /upload/1/signature HTTP/1.1', ['Transfer-Encoding: chunked', auth])), chunked(asc)])],
      [4, Buffer.concat([Buffer.from(head('PUT /upload/1/aci HTTP/1.1', ['Transfer-Encoding: chunked', auth])), chunked(aci)])],
      [5, Buffer.from(head('POST /upload/1/complete HTTP/1.1', ['Content-Length: 16', auth]) + '{"success":true}')],
    ];
    assert.equal(recorded.length, expected.length);
    expected.forEach(([connection, bytes], i) => {
      assert.equal(recorded[i]!.raw.toString('latin1'), bytes.toString('latin1'), `request ${i + 1}`);
      assert.equal(recorded[i]!.connection, connection, `request ${i + 1}'s connection`);
    });
  });

  it('sends a large file in 32 KiB chunks, as Go did with the 8 MiB ACI', async () => {
    recorded.length = 0;
    const body = Buffer.alloc(8_390_369, 1);
    await wireRequest(`${origin}/upload/1/aci`, { method: 'PUT', ca, auth: { bearer: 'SECRET' }, body, chunked: true });
    const raw = recorded[0]!.raw;
    assert.match(raw.toString('latin1', 0, 300), /\r\nAuthorization: Bearer SECRET\r\nAccept-Encoding: gzip\r\n\r\n8000\r\n/);
    const sizes = [...raw.toString('latin1').matchAll(/(?:^|\r\n)([0-9a-f]+)\r\n/g)].map((m) => m[1]);
    assert.deepEqual(sizes.slice(-2), ['6e1', '0']);
    assert.equal(sizes.filter((s) => s === '8000').length, 256);
  });

  it('re-serialises a manifest as acpush-wire.md 1c shows', () => {
    const original = `{
  "labels": [ {"value": "1.0.0", "name": "version"}, {"name": "arch", "value": "amd64"}, {"name": "os", "value": "linux"} ],
  "name": "localhost/demo/pretty",
  "acVersion": "0.8.11",
  "x-unknown": {"a": 1},
  "annotations": [ {"name": "authors", "value": "A <a@example.com>"}, {"name": "homepage", "value": "https://example.com/?a=1&b=<2>"} ],
  "app": {"exec": ["/hello"], "user": "0", "group": "0"},
  "acKind": "ImageManifest"
}
`;
    const sent =
      '{"acKind":"ImageManifest","acVersion":"0.8.11","name":"localhost/demo/pretty","labels":[{"name":"version","value":"1.0.0"},{"name":"arch","value":"amd64"},{"name":"os","value":"linux"}],"app":{"exec":["/hello"],"user":"0","group":"0"},"annotations":[{"name":"authors","value":"A \\u003ca@example.com\\u003e"},{"name":"homepage","value":"https://example.com/?a=1\\u0026b=\\u003c2\\u003e"}]}';
    assert.equal(Buffer.byteLength(original), 437);
    assert.equal(sent.length, 384);
    assert.equal(reserializeManifest(Buffer.from(original)).toString(), sent);
  });
});
