/** Serving .aci, .aci.asc and keys the way rkt and caches rely on. */
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { hasValidArmorChecksum } from '../../src/signing/signature.ts';
import { createFixture, type Fixture } from '../helpers/fixture.ts';

describe('files', () => {
  let f: Fixture;
  let aci: Buffer;
  const path = '/-/aci/localhost/web/app/2.1.0/linux/amd64.aci';

  before(async () => {
    f = await createFixture();
    const pushed = await f.push({
      name: 'localhost/web/app',
      version: '2.1.0',
      entries: [{ name: 'rootfs/noise', body: randomBytes(300_000) }],
    });
    assert.equal(pushed.status, 201, pushed.raw);
    aci = pushed.aci;
  });
  after(() => f?.close());

  it('serves the .aci as octet-stream with a strong content ETag, Last-Modified and immutable caching', async () => {
    const res = await f.server.request(path, { headers: { 'accept-encoding': 'gzip, br' } });
    assert.equal(res.status, 200);
    assert.ok(res.body.equals(aci));
    assert.equal(res.headers['content-type'], 'application/octet-stream');
    assert.equal(res.headers['content-encoding'], undefined);
    assert.equal(res.headers['content-length'], String(aci.length));
    assert.equal(res.headers.etag, `"${createHash('sha256').update(aci).digest('hex')}"`);
    assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(res.headers['accept-ranges'], 'bytes');
    assert.match(String(res.headers['last-modified']), /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
  });

  it('answers HEAD with the headers and no body', async () => {
    const res = await f.server.request(path, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], String(aci.length));
    assert.equal(res.body.length, 0);
  });

  it('answers If-None-Match with 304', async () => {
    const etag = (await f.server.request(path, { method: 'HEAD' })).headers.etag!;
    const res = await f.server.request(path, { headers: { 'if-none-match': etag } });
    assert.equal(res.status, 304);
    assert.equal(res.body.length, 0);
    const other = await f.server.request(path, { headers: { 'if-none-match': '"something-else"' } });
    assert.equal(other.status, 200);
  });

  it('serves single byte ranges with 206, resumes with bytes=N-, and answers 416 past the end', async () => {
    const part = await f.server.request(path, { headers: { range: 'bytes=100-199' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 100-199/${aci.length}`);
    assert.ok(part.body.equals(aci.subarray(100, 200)));
    const tail = await f.server.request(path, { headers: { range: `bytes=${aci.length - 10}-` } });
    assert.equal(tail.status, 206);
    assert.ok(tail.body.equals(aci.subarray(aci.length - 10)));
    const past = await f.server.request(path, { headers: { range: `bytes=${aci.length + 5}-` } });
    assert.equal(past.status, 416);
    assert.equal(past.headers['content-range'], `bytes */${aci.length}`);
    const stale = await f.server.request(path, { headers: { range: 'bytes=0-9', 'if-range': '"old"' } });
    assert.equal(stale.status, 200, 'If-Range with another ETag gets the whole file');
  });

  it('serves the signature armored with its CRC24 line, as pgp-signature', async () => {
    const res = await f.server.request(path + '.asc');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/pgp-signature');
    assert.equal(res.headers['content-encoding'], undefined);
    assert.match(res.body.toString(), /^-----BEGIN PGP SIGNATURE-----/);
    assert.ok(hasValidArmorChecksum(res.body.toString()));
  });

  it('serves latest with no-cache and the same ETag as the version it resolves to', async () => {
    const latest = await f.server.request('/-/aci/localhost/web/app/latest/linux/amd64.aci', { method: 'HEAD' });
    const fixed = await f.server.request(path, { method: 'HEAD' });
    assert.equal(latest.status, 200);
    assert.equal(latest.headers['cache-control'], 'no-cache');
    assert.equal(latest.headers.etag, fixed.headers.etag);
    const asc = await f.server.request('/-/aci/localhost/web/app/latest/linux/amd64.aci.asc');
    assert.equal(asc.headers['cache-control'], 'no-cache');
  });

  it('answers 404 with a JSON error for unknown versions, platforms and shapes', async () => {
    for (const p of [
      '/-/aci/localhost/web/app/9.9.9/linux/amd64.aci',
      '/-/aci/localhost/web/app/2.1.0/linux/arm64.aci',
      '/-/aci/localhost/web/app/latest/freebsd/amd64.aci',
      '/-/aci/nonsense',
    ]) {
      const res = await f.server.request(p);
      assert.equal(res.status, 404, p);
      assert.equal(JSON.parse(res.body.toString()).error.code, 'IMAGE_NOT_FOUND');
    }
  });

  it('serves each trusted key alone, armored, public, at a stable per-fingerprint URL', async () => {
    const res = await f.server.request(`/-/keys/${f.key.fingerprint}.asc`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/pgp-keys');
    assert.match(res.body.toString(), /^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
    assert.doesNotMatch(res.body.toString(), /PRIVATE/);
    assert.ok(hasValidArmorChecksum(res.body.toString()));
    const missing = await f.server.request(`/-/keys/${'0'.repeat(40)}.asc`);
    assert.equal(missing.status, 404);
  });
});
