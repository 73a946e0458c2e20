/**
 * The token API on a real HTTPS server: every answer is one the OpenAPI description
 * documents, no secret reaches the log or the audit log, and a token entering its
 * last two weeks is announced once when the server starts, however often it restarts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TokenStore } from '../../src/registry/access/tokens.ts';
import { FsStorage } from '../../src/storage/fs-storage.ts';
import { readAudit } from '../helpers/audit.ts';
import { fetchContract, type ApiContract } from '../helpers/openapi.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import type { HttpsResponse } from '../helpers/tls.ts';

const DAY_MS = 86_400_000;
const secretOf = (token: string) => token.split('_').slice(2).join('_');

describe('the token API on a server', () => {
  let server: TestServer;
  let contract: ApiContract;
  let admin: string;

  const send = (method: string, path: string, token?: string, body?: unknown): Promise<HttpsResponse> =>
    server.request(path, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)) }),
    });
  const json = (res: HttpsResponse) => JSON.parse(res.body.toString());

  before(async () => {
    server = await startTestServer({ logs: true });
    contract = await fetchContract(server);
    const made = await server.cli(['token', 'create', '--prefix', 'localhost/team', '--scope', 'admin']);
    assert.equal(made.code, 0, made.stderr);
    admin = made.stdout.split('\n')[0]!;
  });
  after(() => server?.close());

  it('answers as the OpenAPI description says, refusals included', async () => {
    const created = await send('POST', '/-/api/tokens', admin, { prefix: 'localhost/team/app', scopes: ['push', 'pull'], expires: '30d' });
    assert.equal(created.status, 201, created.body.toString());
    contract.check('createToken', created);
    assert.equal(created.headers['cache-control'], 'no-store');
    const listed = await send('GET', '/-/api/tokens', admin);
    contract.check('listTokens', listed);
    assert.ok(json(listed).tokens.some((t: { id: string }) => t.id === json(created).id));
    const revoked = await send('DELETE', `/-/api/tokens/${json(created).id}`, admin);
    contract.check('revokeToken', revoked);
    assert.equal(json(revoked).revoked.id, json(created).id);

    const pusher = (await server.cli(['token', 'create', '--prefix', 'localhost/team'])).stdout.split('\n')[0]!;
    const refusals: [string, HttpsResponse, number][] = [
      ['createToken', await send('POST', '/-/api/tokens', undefined, { prefix: 'localhost/team' }), 401],
      ['createToken', await send('POST', '/-/api/tokens', pusher, { prefix: 'localhost/team' }), 403],
      ['createToken', await send('POST', '/-/api/tokens', admin, { prefix: 'localhost/other' }), 403],
      ['createToken', await send('POST', '/-/api/tokens', admin, { prefix: 'localhost/team', scopes: ['root'] }), 422],
      ['createToken', await send('POST', '/-/api/tokens', admin, '{"prefix":'), 400],
      ['createToken', await send('POST', '/-/api/tokens', admin, { prefix: 'localhost/team', name: 'x'.repeat(20_000) }), 413],
      ['listTokens', await send('GET', '/-/api/tokens', pusher), 403],
      ['revokeToken', await send('DELETE', `/-/api/tokens/${'0'.repeat(20)}`, admin), 404],
      ['revokeToken', await send('DELETE', `/-/api/tokens/${'0'.repeat(20)}`), 401],
    ];
    for (const [operation, res, status] of refusals) {
      assert.equal(res.status, status, `${operation}: ${res.body.toString()}`);
      contract.check(operation, res);
    }
  });

  it('never writes a secret to the log or the audit log', async () => {
    const res = await send('POST', '/-/api/tokens', admin, { prefix: 'localhost/team/logged', name: 'logged' });
    const made = json(res).token as string;
    // Used, refused and revoked: every path that logs about it.
    assert.equal((await send('GET', '/-/api/tokens', made)).status, 403);
    assert.equal((await send('GET', '/-/api/images', made)).status, 200);
    assert.equal((await send('DELETE', `/-/api/tokens/${json(res).id}`, admin)).status, 200);
    const logs = JSON.stringify(server.logs);
    assert.ok(logs.includes(json(res).id), 'the token is in the log by its id');
    for (const token of [made, admin]) {
      assert.ok(!logs.includes(secretOf(token)), 'no secret in the server log');
      assert.ok(!JSON.stringify(await readAudit(server.storageDir)).includes(secretOf(token)), 'no secret in the audit log');
    }
  });

  it('announces a token in its last two weeks once, at start, across restarts, and counts it in the metrics', async () => {
    const tokens = new TokenStore(new FsStorage(server.storageDir), 'localhost');
    const { record } = await tokens.create(
      { prefixes: ['localhost/team/old'], scopes: ['push'], name: 'old', expiresInSeconds: 30 * 86_400 },
      new Date(Date.now() - 20 * DAY_MS),
    );
    const announced = async () =>
      (await readAudit(server.storageDir)).filter(
        (e) => e.action === 'token.expiring' && (e.detail as { tokenId: string }).tokenId === record.id,
      );
    for (let restart = 0; restart < 2; restart++) {
      await server.restart();
      const start = Date.now();
      while ((await announced()).length === 0 && Date.now() - start < 5000) await new Promise((r) => setTimeout(r, 50));
      assert.equal((await announced()).length, 1, `after restart ${restart + 1}`);
    }
    assert.ok(server.logs.some((l) => l.msg === 'token expires soon' && l.tokenId === record.id));
    const metrics = (await server.request('/-/metrics')).body.toString();
    assert.match(metrics, /^acihost_tokens_expiring 1$/m);
  });
});
