/** The JSON API for tools: image listing with cursors, one name's versions, keys, OpenAPI, and its errors. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createFixture, type Fixture } from '../helpers/fixture.ts';
import { fetchContract, type ApiContract } from '../helpers/openapi.ts';

/** The operation a GET of this path is, to check its answer against the description. */
function operationOf(path: string): string | undefined {
  const p = path.split('?')[0]!;
  if (p === '/-/api/images') return 'listImages';
  if (p.startsWith('/-/api/images/')) return 'getImage';
  return { '/-/api/keys': 'listKeys', '/-/api/openapi.json': 'getOpenApi' }[p];
}

describe('JSON API: images and keys', () => {
  let f: Fixture;
  let contract: ApiContract;
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await f.server.request(path, { headers });
    const op = operationOf(path);
    if (op) contract.check(op, res);
    return { ...res, json: JSON.parse(res.body.toString()) };
  };

  before(async () => {
    f = await createFixture({ prefix: 'localhost/team' });
    contract = await fetchContract(f.server);
    for (const [name, version, arch] of [
      ['localhost/team/app', '1.0.0', 'amd64'],
      ['localhost/team/app', '1.2.0', 'amd64'],
      ['localhost/team/app', '1.1.0', 'aarch64'],
      ['localhost/team/app/sub', '0.1.0', 'amd64'],
      ['localhost/team/tool', 'v2.0.0', 'amd64'],
    ] as const) {
      const res = await f.push({ name, version, arch });
      assert.equal(res.status, 201, res.raw);
    }
  });
  after(() => f?.close());

  it('lists names with the latest version of each os/arch, image IDs in full', async () => {
    const res = await get('/-/api/images');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /application\/json/);
    assert.deepEqual(
      res.json.images.map((i: { name: string }) => i.name),
      ['localhost/team/app', 'localhost/team/app/sub', 'localhost/team/tool'],
    );
    const app = res.json.images[0];
    assert.equal(app.private, false);
    assert.equal(app.pageUrl, `${f.server.origin}/team/app`);
    assert.equal(app.apiUrl, `${f.server.origin}/-/api/images/localhost/team/app`);
    assert.deepEqual(
      app.latest.map((v: { version: string; arch: string }) => `${v.version}/${v.arch}`),
      ['1.1.0/aarch64', '1.2.0/amd64'],
    );
    assert.match(app.latest[1].imageId, /^sha512-[0-9a-f]{128}$/);
    assert.equal(app.latest[1].aciUrl, `${f.server.origin}/-/aci/localhost/team/app/1.2.0/linux/amd64.aci`);
    assert.equal(app.latest[1].signer, f.key.fingerprint);
    assert.equal(res.json.nextCursor, null);
  });

  it('pages with an opaque cursor until nextCursor is null, and filters by a segment-aligned prefix', async () => {
    const seen: string[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const res = await get(`/-/api/images?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(res.status, 200);
      assert.equal(res.json.images.length, 1);
      seen.push(res.json.images[0].name);
      cursor = res.json.nextCursor;
    }
    assert.deepEqual(seen, ['localhost/team/app', 'localhost/team/app/sub', 'localhost/team/tool']);
    const app = await get('/-/api/images?prefix=localhost/team/app');
    assert.deepEqual(
      app.json.images.map((i: { name: string }) => i.name),
      ['localhost/team/app', 'localhost/team/app/sub'],
    );
    const none = await get('/-/api/images?prefix=localhost/team/ap');
    assert.deepEqual(none.json, { images: [], nextCursor: null, quotas: [] });
  });

  it('refuses a bad limit, cursor or prefix with 422 and the error shape', async () => {
    for (const [query, code] of [
      ['limit=0', 'LIMIT_INVALID'],
      ['limit=abc', 'LIMIT_INVALID'],
      ['limit=1001', 'LIMIT_INVALID'],
      ['cursor=%25%25', 'CURSOR_INVALID'],
      ['prefix=Not%20A%20Name', 'PREFIX_INVALID'],
      ['limit=', 'LIMIT_INVALID'],
      ['cursor=Tk9UIEEgTkFNRQ', 'CURSOR_INVALID'],
      ['limit=1&limit=2', 'QUERY_INVALID'],
      ['prefix=localhost&prefix=localhost/team', 'QUERY_INVALID'],
    ]) {
      const res = await get(`/-/api/images?${query}`);
      assert.equal(res.status, 422, query);
      assert.equal(res.json.error.code, code, query);
      assert.ok(res.json.error.message.length > 10);
    }
  });

  it('answers 401 for a presented token that is wrong, rather than showing less', async () => {
    const res = await get('/-/api/images', { authorization: 'Bearer acih_00000000000000000000_' + 'x'.repeat(43) });
    assert.equal(res.status, 401);
    assert.equal(res.json.error.code, 'TOKEN_INVALID');
    assert.ok(res.headers['www-authenticate']);
  });

  it('shows every version/os/arch of a name, highest first, marking latest', async () => {
    const res = await get('/-/api/images/localhost/team/app');
    assert.equal(res.status, 200);
    assert.equal(res.json.name, 'localhost/team/app');
    assert.deepEqual(
      res.json.versions.map((v: { version: string; arch: string; latest: boolean }) => `${v.version}/${v.arch}/${v.latest}`),
      ['1.2.0/amd64/true', '1.1.0/aarch64/true', '1.0.0/amd64/false'],
    );
    const v = res.json.versions[0];
    for (const field of ['imageId', 'size', 'signer', 'signerKeyUrl', 'pushedAt', 'aciUrl', 'ascUrl']) assert.ok(v[field], field);
    assert.equal(v.signerKeyUrl, `${f.server.origin}/-/keys/${f.key.fingerprint}.asc`);
    const file = await f.server.request(new URL(v.aciUrl).pathname);
    assert.equal(file.status, 200);
    assert.equal(file.body.length, v.size);
  });

  it('answers 404 with a JSON error for an unknown name and an unknown API path', async () => {
    for (const path of ['/-/api/images/localhost/team/nothing', '/-/api/images/NOT..valid', '/-/api/nope']) {
      const res = await get(path);
      assert.equal(res.status, 404, path);
      assert.match(res.json.error.code, /^(IMAGE|API)_NOT_FOUND$/, path);
    }
  });

  it('lists trusted keys with prefixes, fingerprint, algorithm, created and expiry', async () => {
    const res = await get('/-/api/keys');
    assert.equal(res.status, 200);
    assert.equal(res.json.keys.length, 1);
    const k = res.json.keys[0];
    assert.equal(k.fingerprint, f.key.fingerprint);
    assert.deepEqual(k.prefixes, ['localhost/team']);
    assert.match(k.algorithm, /rsa/i);
    assert.ok(Date.parse(k.created));
    assert.equal(k.expires, null);
    assert.equal(k.url, `${f.server.origin}/-/keys/${f.key.fingerprint}.asc`);
    assert.equal(k.armored, undefined);
  });

  it('serves an OpenAPI description of every API route', async () => {
    const res = await get('/-/api/openapi.json');
    assert.equal(res.status, 200);
    assert.equal(res.json.openapi, '3.1.0');
    assert.equal(res.json.servers[0].url, f.server.origin);
    assert.deepEqual(Object.keys(res.json.paths).sort(), [
      '/-/api/conversions',
      '/-/api/conversions/{id}',
      '/-/api/images',
      '/-/api/images/{name}',
      '/-/api/images/{name}/{version}/{os}/{arch}',
      '/-/api/keys',
      '/-/api/openapi.json',
      '/-/api/quotas',
      '/-/api/retention/plan',
      '/-/api/tokens',
      '/-/api/tokens/{id}',
      '/-/api/webhooks',
      '/-/api/webhooks/{id}',
      '/-/api/webhooks/{id}/deliveries',
      '/-/health/live',
      '/-/health/ready',
    ]);
    assert.ok(res.json.paths['/-/api/images/{name}/{version}/{os}/{arch}'].delete);
  });
});
