/**
 * What is used of each quota, as the JSON API (checked against the served OpenAPI
 * description), the page for people and the metrics show it: current after pushes and
 * deletes, and hidden where a private prefix overlaps the quota from a viewer who may not
 * read every name it sums.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createFixture, type Fixture } from '../helpers/fixture.ts';
import { fetchContract, type ApiContract } from '../helpers/openapi.ts';
import type { QuotaLimits } from '../../src/registry/quota/quota-store.ts';

describe('quotas: use shown in the API, on the page and in the metrics', () => {
  let f: Fixture;
  let contract: ApiContract;
  let pullToken: string;
  let deleteToken: string;
  const sizes: number[] = [];

  /** Sets a quota as the CLI does, and has the server read it at once rather than at its next poll. */
  async function setQuota(prefix: string, limits: Partial<QuotaLimits>): Promise<void> {
    const { store } = f.server.running.registry.quotas;
    await store.set(prefix, { maxBytes: null, maxVersions: null, ...limits });
    await store.mirror.refresh();
  }

  async function get(path: string, token?: string) {
    const res = await f.server.request(path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { ...res, json: res.headers['content-type']?.toString().includes('json') ? JSON.parse(res.body.toString()) : undefined };
  }

  before(async () => {
    f = await createFixture({ prefix: 'localhost', config: { access: { privatePrefixes: ['localhost/secret'] } } });
    contract = await fetchContract(f.server);
    pullToken = await f.createToken(['--prefix', 'localhost', '--scope', 'pull']);
    deleteToken = await f.createToken(['--prefix', 'localhost', '--scope', 'delete']);
    for (const version of ['1.0.0', '1.1.0']) {
      const res = await f.push({ name: 'localhost/team/app', version });
      assert.equal(res.status, 201, res.raw);
      sizes.push(res.aci.length);
    }
    assert.equal((await f.push({ name: 'localhost/secret/app', version: '1.0.0' })).status, 201);
    await setQuota('localhost/team', { maxBytes: 1_000_000, maxVersions: 10 });
    await setQuota('localhost', { maxVersions: 100 });
  });
  after(() => f?.close());

  it('GET /-/api/quotas lists every quota with its use, and filters by prefix', async () => {
    const res = await get('/-/api/quotas');
    assert.equal(res.status, 200);
    contract.check('listQuotas', res);
    const team = { prefix: 'localhost/team', maxBytes: 1_000_000, maxVersions: 10, usedBytes: sizes[0]! + sizes[1]!, usedVersions: 2 };
    assert.deepEqual(
      res.json.quotas.map(({ setAt: _, ...q }: { setAt: string }) => q),
      [{ prefix: 'localhost', maxBytes: null, maxVersions: 100, usedBytes: null, usedVersions: null }, team],
      'the use of localhost sums a private name: hidden from an anonymous viewer',
    );
    const below = await get('/-/api/quotas?prefix=localhost/team/app');
    assert.deepEqual(
      below.json.quotas.map((q: { prefix: string }) => q.prefix),
      ['localhost', 'localhost/team'],
    );
    const other = await get('/-/api/quotas?prefix=localhost/other');
    assert.deepEqual(
      other.json.quotas.map((q: { prefix: string }) => q.prefix),
      ['localhost'],
    );
    const bad = await get('/-/api/quotas?prefix=Not%20a%20name');
    assert.equal(bad.status, 422);
    assert.equal(bad.json.error.code, 'PREFIX_INVALID');
    contract.check('listQuotas', bad);
  });

  it('shows the use of a quota over a private prefix to a token that may pull everything under it', async () => {
    const res = await get('/-/api/quotas?prefix=localhost', pullToken);
    contract.check('listQuotas', res);
    const domain = res.json.quotas.find((q: { prefix: string }) => q.prefix === 'localhost');
    assert.deepEqual([domain.usedVersions, domain.usedBytes > 0], [3, true]);
  });

  it('gives the quotas that hold for a name with its versions, and for a prefix with its listing', async () => {
    const name = await get('/-/api/images/localhost/team/app');
    contract.check('getImage', name);
    assert.deepEqual(
      name.json.quotas.map((q: { prefix: string; usedVersions: number | null }) => `${q.prefix} ${q.usedVersions}`),
      ['localhost null', 'localhost/team 2'],
    );
    const listing = await get('/-/api/images?prefix=localhost/team');
    contract.check('listImages', listing);
    assert.deepEqual(
      listing.json.quotas.map((q: { prefix: string }) => q.prefix),
      ['localhost', 'localhost/team'],
    );
  });

  it('shows use and limit on the page for people', async () => {
    const page = (await get('/team/app')).body.toString();
    assert.match(page, /<h2 id="quotas">Quotas<\/h2>/);
    assert.match(
      page,
      new RegExp(
        `<a href="/team">localhost/team</a>: <span title="${sizes[0]! + sizes[1]!} of 1000000 bytes">[^<]+ of 977 KiB</span>, 2 of 10 versions</li>`,
      ),
    );
    assert.match(
      page,
      /<a href="\/">localhost<\/a>: at most 100 versions <span class="muted">\(what is used is shown to a token with the pull scope\)<\/span>/,
    );
    const other = (await get('/other')).body.toString();
    assert.match(other, /<a href="\/">localhost<\/a>: at most 100 versions/);
    assert.doesNotMatch(other, /localhost\/team<\/a>:/, 'only the quotas that hold for the name');
  });

  it('exports the use and limits of every quota as gauges, following deletes', async () => {
    const metrics = async () => (await get('/-/metrics')).body.toString();
    const text = await metrics();
    assert.ok(text.includes(`acihost_quota_bytes_used{prefix="localhost/team"} ${sizes[0]! + sizes[1]!}`), text);
    assert.ok(text.includes('acihost_quota_bytes_limit{prefix="localhost/team"} 1000000'));
    assert.ok(text.includes('acihost_quota_versions_used{prefix="localhost/team"} 2'));
    assert.ok(text.includes('acihost_quota_versions_limit{prefix="localhost/team"} 10'));
    assert.ok(text.includes('acihost_quota_versions_used{prefix="localhost"} 3'));
    assert.ok(!text.includes('acihost_quota_bytes_limit{prefix="localhost"}'), 'no series for a limit not set');

    const del = await f.server.request('/-/api/images/localhost/team/app/1.0.0/linux/amd64', {
      method: 'DELETE',
      headers: { authorization: `Bearer ${deleteToken}` },
    });
    assert.equal(del.status, 200, del.body.toString());
    const after = await metrics();
    assert.ok(after.includes(`acihost_quota_bytes_used{prefix="localhost/team"} ${sizes[1]!}`), after);
    assert.ok(after.includes('acihost_quota_versions_used{prefix="localhost/team"} 1'));

    await f.server.running.registry.quotas.store.remove('localhost');
    await f.server.running.registry.quotas.store.mirror.refresh();
    assert.ok(!(await metrics()).includes('prefix="localhost"}'), 'a removed quota has no series');
  });
});
