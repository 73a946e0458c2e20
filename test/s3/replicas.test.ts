/**
 * Three replicas sharing one bucket on a real Ceph RGW: any replica answers any
 * request, and what one does the others see within 2 seconds.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promisify } from 'node:util';
import { buildAci } from '../helpers/aci-builder.ts';
import { createGpg, type Gpg, type GpgKey } from '../helpers/gpg.ts';
import { curlPush } from '../helpers/push.ts';
import { s3Env, uniquePrefix, s3Ready } from '../helpers/s3.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { tempDir } from '../helpers/temp-dir.ts';

// The cluster may still be starting (test/global-setup.ts).
await s3Ready();

const run = promisify(execFile);
const ACFETCH = new URL('../../.cache/acfetch', import.meta.url).pathname;

async function eventually(check: () => Promise<boolean>, withinMs: number, what: string): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > withinMs) assert.fail(`${what}: not within ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('replicas on one S3 bucket', () => {
  let replicas: TestServer[];
  let gpg: Gpg;
  let key: GpgKey;
  let token: string;
  let n = 0;

  before(async () => {
    const prefix = uniquePrefix('replicas');
    const certsDir = join(await tempDir('acihost-replica-certs-'), 'certs');
    gpg = await createGpg();
    replicas = [];
    // One after the other: the first creates the shared development CA the others reuse.
    for (let i = 0; i < 3; i++) replicas.push(await startTestServer({ env: s3Env(prefix), certsDir }));
    key = await gpg.genKey({ algo: 'rsa2048' });
    const keyFile = join(replicas[0]!.dir, 'k.asc');
    await writeFile(keyFile, await gpg.exportPublic(key.fingerprint));
    assert.equal((await replicas[0]!.cli(['key', 'add', '--prefix', 'localhost', keyFile])).code, 0);
    token = (await replicas[1]!.cli(['token', 'create', '--prefix', 'localhost', '--scope', 'push', '--scope', 'delete'])).stdout.split(
      '\n',
    )[0]!;
    // A key added with the CLI reaches every replica within 2 s (their next poll of the bucket). Asked of
    // the root page: a miss on a name is remembered for a second, which would delay its discovery below.
    for (const r of replicas) {
      await eventually(
        async () => (await r.request('/?ac-discovery=1')).body.toString().includes('ac-discovery-pubkeys'),
        2000,
        `the new key on ${r.origin}`,
      );
    }
  });
  after(async () => {
    for (const r of replicas ?? []) await r.close();
    await gpg?.cleanup();
  });

  async function image(name: string, version: string, extra = '') {
    const aci = await buildAci({ name, version, entries: extra ? [{ name: 'rootfs/extra', body: extra }] : [] });
    const aciPath = join(replicas[0]!.dir, `r-${++n}.aci`);
    await writeFile(aciPath, aci);
    return { aci, aciPath, ascPath: await gpg.signFile(aciPath, key.fingerprint) };
  }
  const push = (via: TestServer, img: { aciPath: string; ascPath: string }) =>
    curlPush({ origin: via.origin, caFile: via.caFile, token, aci: img.aciPath, asc: img.ascPath });

  it('a token made with the CLI against the bucket works on every replica at once', async () => {
    for (const r of replicas) {
      const res = await r.request('/-/push', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 400, `${r.origin}: authenticated, then refused for its empty body`);
    }
  });

  it('push through A; discover, fetch and verify through B and C', async () => {
    const img = await image('localhost/fleet/app', '1.0.0');
    const res = await push(replicas[0]!, img);
    assert.equal(res.status, 201, res.raw);
    for (const r of replicas.slice(1)) {
      const { stdout } = await run(ACFETCH, ['--cafile', r.caFile, '--port', String(r.port), 'localhost/fleet/app:1.0.0']);
      assert.equal(stdout.trim(), res.json.imageId);
      await eventually(
        async () => (await r.request('/fleet?ac-discovery=1')).body.toString().includes('localhost/fleet/app '),
        2000,
        'discovery on another replica',
      );
    }
  });

  it('delete through B is gone on A and C within 2 s', async () => {
    const img = await image('localhost/fleet/gone', '1.0.0');
    assert.equal((await push(replicas[0]!, img)).status, 201);
    for (const r of replicas)
      assert.equal((await r.request('/-/aci/localhost/fleet/gone/1.0.0/linux/amd64.aci', { method: 'HEAD' })).status, 200);
    const del = await replicas[1]!.request('/-/api/images/localhost/fleet/gone/1.0.0/linux/amd64', {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(del.status, 200, del.body.toString());
    for (const r of [replicas[0]!, replicas[2]!]) {
      await eventually(
        async () => (await r.request('/-/aci/localhost/fleet/gone/1.0.0/linux/amd64.aci', { method: 'HEAD' })).status === 404,
        2000,
        `delete seen by ${r.origin}`,
      );
    }
  });

  it('eight concurrent pushes of one version over three replicas: exactly one 201, the same bytes everywhere', async () => {
    const images = await Promise.all(Array.from({ length: 8 }, (_, i) => image('localhost/fleet/race', '1.0.0', `variant ${i}`)));
    const results = await Promise.all(images.map((img, i) => push(replicas[i % 3]!, img)));
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [201, 409, 409, 409, 409, 409, 409, 409], results.map((r) => r.raw).join('\n'));
    const winner = images[results.findIndex((r) => r.status === 201)]!;
    for (const r of replicas) {
      const served = await r.request('/-/aci/localhost/fleet/race/1.0.0/linux/amd64.aci');
      assert.ok(served.body.equals(winner.aci), `${r.origin} serves the winner`);
    }
  });
});
