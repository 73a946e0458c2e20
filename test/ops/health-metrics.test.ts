/**
 * Health, metrics and the access log over real HTTPS: readiness with its
 * checks, Prometheus text with requests, pushes, signature failures, storage
 * operations and the certificate, the metrics token option, and one access line
 * per request that names the token by id and never shows it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildAci } from '../helpers/aci-builder.ts';
import { createGpg, type Gpg } from '../helpers/gpg.ts';
import { curlPush } from '../helpers/push.ts';
import { startTestServer, waitFor, type TestServer } from '../helpers/server.ts';
import { httpsRequest } from '../helpers/tls.ts';

/** The value of one sample line, e.g. sample(text, 'acihost_pushes_total{result="created",code=""}'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('health, metrics and access log', () => {
  let server: TestServer;
  let gpg: Gpg;
  let origin: string;
  let caFile: string;
  let token: string;
  let metricsToken: string;
  const get = (path: string, headers: Record<string, string> = {}) => httpsRequest(origin + path, { ca: server.caPem, headers });

  before(async () => {
    [server, gpg] = await Promise.all([startTestServer({ logs: true }), createGpg()]);
    ({ origin, caFile } = server);
    const key = await gpg.genKey({ algo: 'rsa2048', uid: 'ci <ci@localhost>' });
    await writeFile(join(server.dir, 'key.asc'), await gpg.exportPublic(key.fingerprint));
    assert.equal((await server.cli(['key', 'add', '--prefix', 'localhost', join(server.dir, 'key.asc')])).code, 0);
    token = (await server.cli(['token', 'create', '--prefix', 'localhost'])).stdout.split('\n')[0]!;
    metricsToken = (await server.cli(['token', 'create', '--prefix', 'localhost', '--scope', 'metrics'])).stdout.split('\n')[0]!;
    // One good push and one whose signature is made by an untrusted key.
    const aci = join(server.dir, 'a.aci');
    await writeFile(aci, await buildAci({ name: 'localhost/app', version: '1.0.0' }));
    const good = await curlPush({ origin, caFile, token, aci, asc: await gpg.signFile(aci, key.fingerprint) });
    assert.equal(good.status, 201, good.raw);
    const stranger = await gpg.genKey({ algo: 'rsa2048', uid: 'x <x@localhost>' });
    const bad = join(server.dir, 'b.aci');
    await writeFile(bad, await buildAci({ name: 'localhost/app', version: '2.0.0' }));
    const refused = await curlPush({ origin, caFile, token, aci: bad, asc: await gpg.signFile(bad, stranger.fingerprint) });
    assert.equal(refused.status, 422, refused.raw);
  });
  after(async () => {
    await server?.close();
    await gpg?.cleanup();
  });

  it('answers liveness and readiness as uncached JSON without a token', async () => {
    const live = await get('/-/health/live');
    assert.equal(live.status, 200);
    assert.equal(live.headers['cache-control'], 'no-store');
    assert.deepEqual(JSON.parse(live.body.toString()), { status: 'live' });
    const ready = await get('/-/health/ready');
    assert.equal(ready.status, 200);
    assert.equal(ready.headers['cache-control'], 'no-store');
    assert.deepEqual(JSON.parse(ready.body.toString()), {
      status: 'ready',
      checks: { config: 'ok', storage: 'ok', certificate: 'ok', lifecycle: 'ok' },
    });
  });

  it('exports requests, pushes, signature failures, storage, index and certificate metrics', async () => {
    const logged = server.logs.length;
    await get('/-/aci/localhost/app/1.0.0/linux/amd64.aci');
    // A request is counted when its response has finished on the server's side, which can come
    // just after the client has the last byte: scrape once the download's access line is out.
    await waitFor('the download to be counted', () =>
      server.logs.slice(logged).find((l) => l.msg === 'request completed' && l.route === '/-/aci/*'),
    );
    const res = await get('/-/metrics');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const text = res.body.toString();
    assert.equal(sample(text, 'acihost_pushes_total{result="created",code=""}'), 1);
    assert.equal(sample(text, 'acihost_pushes_total{result="refused",code="SIGNATURE_UNTRUSTED_KEY"}'), 1);
    assert.equal(sample(text, 'acihost_signature_failures_total{code="SIGNATURE_UNTRUSTED_KEY"}'), 1);
    assert.equal(sample(text, 'acihost_http_requests_total{method="POST",route="/-/push",status="201"}'), 1);
    assert.equal(sample(text, 'acihost_http_requests_total{method="GET",route="/-/aci/*",status="200"}'), 1);
    assert.ok(sample(text, 'acihost_http_request_duration_seconds_count{method="POST",route="/-/push"}')! >= 2);
    assert.ok(sample(text, 'acihost_http_sent_bytes_total{route="/-/aci/*"}')! > 100);
    assert.ok(sample(text, 'acihost_http_received_bytes_total{route="/-/push"}')! > 1000, 'the uploads count as received');
    assert.ok(sample(text, 'acihost_storage_operation_duration_seconds_count{operation="put"}')! >= 1);
    assert.equal(sample(text, 'acihost_index_versions'), 1);
    assert.equal(sample(text, 'acihost_upload_sessions_open'), 0);
    const expiry = sample(text, 'acihost_certificate_expiry_timestamp_seconds')!;
    assert.ok(expiry > Date.now() / 1000 + 86400 * 300, 'the development certificate lasts months');
    assert.equal(sample(text, 'acihost_certificate_valid'), 1);
    assert.match(text, /acihost_process_resident_memory_bytes/);
    // Prometheus's own checker, as an operator's CI would run it on the scrape.
    const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(promtool.status, 0, promtool.stdout + promtool.stderr);
  });

  it('writes one access line per request with id, route, status, bytes, duration and token id, never the token', async () => {
    const before = server.logs.length;
    const res = await get('/-/api/images', { authorization: `Bearer ${token}` });
    await get('/-/no/such/thing');
    const lines = server.logs.slice(before).filter((l) => l.msg === 'request completed');
    assert.equal(lines.length, 2);
    const [api, missing] = lines as [Record<string, any>, Record<string, any>];
    assert.equal(api.method, 'GET');
    assert.equal(api.route, '/-/api/images');
    assert.equal(api.status, res.status);
    assert.equal(api.tokenId, token.split('_')[1]);
    assert.ok(api.bytesSent >= res.body.length);
    assert.equal(typeof api.ms, 'number');
    assert.match(String(api.reqId), /.+/);
    assert.notEqual(api.reqId, missing.reqId);
    assert.equal(missing.status, 404);
    assert.equal(missing.tokenId, null);
    // Everything after the id: the secret is base64url, which has '_' of its own.
    const secret = token.split('_').slice(2).join('_');
    for (const line of server.logs) {
      const text = JSON.stringify(line);
      assert.ok(!text.includes(secret), 'a token secret reached the log');
      assert.ok(!/authorization/i.test(text) || text.includes('[redacted]'), 'an Authorization header reached the log');
    }
  });

  it('writes the same access line for an answer given from memory (a repeated page)', async () => {
    const before = server.logs.length;
    const first = await get('/app?ac-discovery=1');
    const again = await get('/app?ac-discovery=1');
    assert.ok(again.body.equals(first.body));
    const lines = server.logs.slice(before).filter((l) => l.msg === 'request completed');
    assert.equal(lines.length, 2);
    const [routed, remembered] = lines as [Record<string, any>, Record<string, any>];
    for (const line of [routed, remembered]) {
      assert.equal(line.method, 'GET');
      assert.equal(line.route, '/*');
      assert.equal(line.url, '/app?ac-discovery=1');
      assert.equal(line.status, 200);
      assert.equal(line.tokenId, null);
      assert.equal(line.ip, '127.0.0.1');
      assert.equal(typeof line.ms, 'number');
      assert.ok(line.bytesSent > first.body.length, 'headers and body were sent');
      assert.ok(line.bytesReceived > 0);
    }
    assert.match(String(remembered.reqId), /^req-[0-9a-z]+$/);
    assert.notEqual(remembered.reqId, routed.reqId);
    const text = (await get('/-/metrics')).body.toString();
    assert.ok(sample(text, 'acihost_http_memory_answers_total')! >= 1);

    // Another spelling of the same page's URL is answered from the same memory, and logged as it was asked.
    const count = async () => sample((await get('/-/metrics')).body.toString(), 'acihost_http_memory_answers_total')!;
    const counted = await count();
    const other = await get('/app?utm=x&ac-discovery=1');
    assert.ok(other.body.equals(first.body));
    assert.equal(await count(), counted + 1);
    const line = await waitFor('the access line', () => server.logs.find((l) => l.msg === 'request completed' && l.url.includes('utm')));
    assert.equal(line.url, '/app?utm=x&ac-discovery=1');
    assert.equal(line.route, '/*');
  });

  it('can require a token with the metrics scope', async () => {
    const locked = await startTestServer({
      logs: true,
      env: { ACIHOST_STORAGE_DIR: server.storageDir },
      config: { metrics: { requireToken: true } },
    });
    try {
      const ask = (headers: Record<string, string>) => locked.request('/-/metrics', { headers });
      assert.equal((await ask({})).status, 401);
      const noScope = await ask({ authorization: `Bearer ${token}` });
      assert.equal(noScope.status, 403);
      assert.equal(JSON.parse(noScope.body.toString()).error.code, 'TOKEN_SCOPE_MISSING');
      assert.equal((await ask({ authorization: `Bearer ${metricsToken}` })).status, 200);
    } finally {
      await locked.close();
    }
  });
});
