/**
 * GET /-/api/retention/plan on a running server: who may ask (a token with the delete
 * scope for the prefix), what it answers (as the OpenAPI description says), and that it
 * follows the policies the CLI sets at once without removing anything.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { layout } from '../../src/storage/layout.ts';
import { fetchContract, type ApiContract } from '../helpers/openapi.ts';
import { DAY, pushedAgo, seedVersions } from '../helpers/retention.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const NOW = Date.now();
const builds = (name: string) => [1, 2, 3, 4].map((n, i) => pushedAgo(name, `build-${n}`, (5 - n) * DAY, NOW, 'amd64', i));
const RECORDS = [...builds('localhost/team/app'), ...builds('localhost/team/tool'), ...builds('localhost/other/app')];

describe('retention plan API', () => {
  let server: TestServer;
  let contract: ApiContract;
  let teamDelete: string;
  let otherDelete: string;
  let teamPush: string;

  const token = async (prefix: string, scope: string) => {
    const r = await server.cli(['token', 'create', '--prefix', prefix, '--scope', scope]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split('\n')[0]!;
  };
  const plan = async (query: string, bearer?: string) => {
    const res = await server.request(`/-/api/retention/plan${query}`, { headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });
    contract.check('planRetention', res);
    return { ...res, json: JSON.parse(res.body.toString()) };
  };

  before(async () => {
    const dir = await tempDir('acihost-retention-api-');
    await seedVersions(join(dir, 'storage'), RECORDS);
    server = await startTestServer({ dir });
    contract = await fetchContract(server);
    teamDelete = await token('localhost/team', 'delete');
    otherDelete = await token('localhost/other', 'delete');
    teamPush = await token('localhost/team', 'push');
    for (const args of [
      ['--prefix', 'localhost', '--keep', '3'],
      ['--prefix', 'localhost/team', '--keep', '2'],
    ]) {
      const r = await server.cli(['retention', 'set', ...args]);
      assert.equal(r.code, 0, r.stderr);
    }
  });
  after(() => server?.close());

  it('needs a token with the delete scope for a prefix covering the one asked about', async () => {
    assert.equal((await plan('?prefix=localhost/team')).json.error.code, 'TOKEN_MISSING');
    const pushOnly = await plan('?prefix=localhost/team', teamPush);
    assert.deepEqual([pushOnly.status, pushOnly.json.error.code], [403, 'TOKEN_SCOPE_MISSING']);
    const elsewhere = await plan('?prefix=localhost/team', otherDelete);
    assert.deepEqual([elsewhere.status, elsewhere.json.error.code], [403, 'PREFIX_NOT_ALLOWED']);
    const wholeDomain = await plan('', teamDelete);
    assert.deepEqual([wholeDomain.status, wholeDomain.json.error.code], [403, 'PREFIX_NOT_ALLOWED'], 'no prefix: the image domain');
  });

  it('refuses a prefix that is not a name prefix, or given twice', async () => {
    const bad = await plan('?prefix=Localhost/Team', teamDelete);
    assert.deepEqual([bad.status, bad.json.error.code], [422, 'PREFIX_INVALID']);
    const twice = await plan('?prefix=localhost/team&prefix=localhost/team', teamDelete);
    assert.deepEqual([twice.status, twice.json.error.code], [422, 'QUERY_INVALID']);
  });

  it('lists what the governing policies would remove, and the bytes, and removes nothing', async () => {
    const res = await plan('?prefix=localhost/team/', teamDelete);
    assert.equal(res.status, 200);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.json.prefix, 'localhost/team');
    assert.deepEqual(
      res.json.versions.map((v: { name: string; version: string; policy: string }) => `${v.name} ${v.version} ${v.policy}`),
      [
        'localhost/team/app build-1 localhost/team',
        'localhost/team/app build-2 localhost/team',
        'localhost/team/tool build-1 localhost/team',
        'localhost/team/tool build-2 localhost/team',
      ],
    );
    const first = RECORDS[0]!;
    assert.deepEqual(res.json.versions[0], {
      name: first.name,
      version: first.version,
      os: 'linux',
      arch: 'amd64',
      size: first.size,
      pushedAt: first.pushedAt,
      policy: 'localhost/team',
    });
    assert.deepEqual([res.json.count, res.json.bytes], [4, 4 * first.size]);
    const other = await plan('?prefix=localhost/other', otherDelete);
    assert.deepEqual(
      other.json.versions.map((v: { version: string; policy: string }) => `${v.version} ${v.policy}`),
      ['build-1 localhost'],
    );
    await access(join(server.storageDir, layout.versionRecord(first)));
  });

  it('follows a policy set with the CLI at once', async () => {
    assert.equal((await server.cli(['retention', 'set', '--prefix', 'localhost/team/app', '--keep', '3'])).code, 0);
    const res = await plan('?prefix=localhost/team/app', teamDelete);
    assert.deepEqual(
      res.json.versions.map((v: { version: string; policy: string }) => `${v.version} ${v.policy}`),
      ['build-1 localhost/team/app'],
    );
    assert.equal((await server.cli(['retention', 'remove', '--prefix', 'localhost/team/app'])).code, 0);
    assert.equal((await plan('?prefix=localhost/team/app', teamDelete)).json.count, 2);
  });
});
