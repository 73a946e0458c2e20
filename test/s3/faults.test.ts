/**
 * Replicas on S3 under faults: a replica killed between acpush parts or in the
 * middle of a large push, and the object store going away mid-traffic.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { buildAci } from '../helpers/aci-builder.ts';
import { discoverPushTemplate, manifestOf, renderTemplate, reserializeManifest, wireRequest } from '../helpers/acpush-client.ts';
import { createGpg, type Gpg, type GpgKey } from '../helpers/gpg.ts';
import { curlPush } from '../helpers/push.ts';
import { S3_TEST, s3Env, uniquePrefix, s3Ready, s3TestClient } from '../helpers/s3.ts';
import { runCli, serverSetup, spawnServer, type ServerProcess } from '../helpers/server.ts';
import { httpsRequest } from '../helpers/tls.ts';
import { tempDir } from '../helpers/temp-dir.ts';

// The cluster may still be starting (test/global-setup.ts).
await s3Ready();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP relay in front of RGW that a test can cut and restore: the store "goes away". */
class StoreLink {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;
  async up(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(7480, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => this.server!.listen(this.port, '127.0.0.1', r));
    this.port = (this.server!.address() as { port: number }).port;
  }
  async down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server?.close(() => r()));
  }
}

describe('replicas on S3 under faults', () => {
  let gpg: Gpg;
  let key: GpgKey;
  let dir: string;
  let prefix: string;
  let token: string;
  let n = 0;
  const running: ServerProcess[] = [];
  const s3 = s3TestClient();

  async function replica(extraEnv: Record<string, string> = {}, config: Record<string, unknown> = {}) {
    // Every replica trusts and serves the one development CA.
    const setup = await serverSetup({
      certsDir: join(dir, 'certs'),
      config,
      env: { ...s3Env(prefix), ACIHOST_LOG_LEVEL: 'warn', ...extraEnv },
    });
    const proc = await spawnServer(setup);
    running.push(proc);
    return { ...setup, proc };
  }
  const ca = () => readFile(join(dir, 'certs', 'ca.pem'), 'utf8');
  const caFile = () => join(dir, 'certs', 'ca.pem');

  async function image(version: string, body: Buffer | string = 'x', compression: 'gzip' | 'none' = 'gzip') {
    const aci = await buildAci({ name: 'localhost/faulty/app', version, compression, entries: [{ name: 'rootfs/payload', body }] });
    const aciPath = join(dir, `img-${++n}.aci`);
    await writeFile(aciPath, aci);
    return { aci, aciPath, ascPath: await gpg.signFile(aciPath, key.fingerprint) };
  }

  async function objects(under: string): Promise<string[]> {
    const res = await s3.send(new ListObjectsV2Command({ Bucket: S3_TEST.bucket, Prefix: prefix + under }));
    return (res.Contents ?? []).map((o) => o.Key!.slice(prefix.length));
  }

  before(async () => {
    dir = await tempDir('acihost-s3-faults-');
    prefix = uniquePrefix('faults');
    gpg = await createGpg();
    key = await gpg.genKey({ algo: 'rsa2048' });
    await writeFile(join(dir, 'k.asc'), await gpg.exportPublic(key.fingerprint));
    const cliEnv = { ...s3Env(prefix), ACIHOST_PUBLIC_URL: 'https://localhost:1' };
    const cfg = join(dir, 'cli.json');
    await writeFile(cfg, '{}');
    assert.equal((await runCli(['key', 'add', '--prefix', 'localhost', join(dir, 'k.asc'), '--config', cfg], cliEnv)).code, 0);
    token = (await runCli(['token', 'create', '--prefix', 'localhost', '--config', cfg], cliEnv)).stdout.split('\n')[0]!;
  });
  after(async () => {
    for (const p of running) await p.stop().catch(() => undefined);
    await gpg?.cleanup();
    s3.destroy();
  });

  it('acpush parts spread over replicas, one killed between parts: another completes the upload', async () => {
    const a = await replica();
    const b = await replica();
    const img = await image('1.0.0');
    const auth = { basic: { user: 'ci', password: token } };
    const template = await discoverPushTemplate(b.origin, await ca(), 'localhost/faulty/app');
    assert.ok(template, 'push discovery tag');
    const start = await wireRequest(
      renderTemplate(template!, { name: 'localhost/faulty/app', version: '1.0.0', os: 'linux', arch: 'amd64' }).replace(b.origin, a.origin),
      {
        method: 'POST',
        ca: await ca(),
        auth,
        body: Buffer.alloc(0),
      },
    );
    assert.equal(start.status, 200, start.body.toString());
    const onB = (url: string) => url.replace(a.origin, b.origin);
    const manifest = await wireRequest(start.json.upload_manifest_url, {
      method: 'PUT',
      ca: await ca(),
      auth,
      body: reserializeManifest(await manifestOf(img.aci)),
    });
    assert.equal(manifest.status, 200);
    a.proc.child.kill('SIGKILL');
    await a.proc.exited;
    for (const [url, body] of [
      [start.json.upload_signature_url, await readFile(img.ascPath)],
      [start.json.upload_aci_url, img.aci],
    ] as const) {
      const res = await wireRequest(onB(url), { method: 'PUT', ca: await ca(), auth, body, chunked: true });
      assert.equal(res.status, 200, res.body.toString());
    }
    const done = await wireRequest(onB(start.json.completed_url), {
      method: 'POST',
      ca: await ca(),
      auth,
      body: Buffer.from('{"success":true}'),
    });
    assert.deepEqual(done.json, { success: true });
    const served = await httpsRequest(`${b.origin}/-/aci/localhost/faulty/app/1.0.0/linux/amd64.aci`, { ca: await ca() });
    assert.ok(served.body.equals(img.aci));
    await b.proc.stop();
  });

  it('a replica killed during a 256 MiB push leaves nothing visible, and the sweep removes the leftovers', async () => {
    const a = await replica();
    const b = await replica();
    const img = await image('2.0.0', randomBytes(256 * 1024 * 1024), 'none');
    const pushing = curlPush({ origin: a.origin, caFile: caFile(), token, aci: img.aciPath, asc: img.ascPath }).catch(() => undefined);
    // Wait until the upload is well under way in the bucket (a multipart upload exists), then kill.
    for (let i = 0; i < 200; i++) {
      const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: S3_TEST.bucket, Prefix: prefix }));
      if ((uploads.Uploads ?? []).length > 0) break;
      await sleep(50);
    }
    a.proc.child.kill('SIGKILL');
    await a.proc.exited;
    await pushing;
    for (const origin of [b.origin]) {
      const res = await httpsRequest(`${origin}/-/aci/localhost/faulty/app/2.0.0/linux/amd64.aci`, { ca: await ca(), method: 'HEAD' });
      assert.equal(res.status, 404);
    }
    assert.deepEqual(
      (await objects('images/localhost/faulty/app/_v/')).filter((k) => k.includes('2.0.0')),
      [],
    );
    await b.proc.stop();
    // A replica starting with no grace period sweeps staging objects and the dead multipart upload.
    const sweeper = await replica({}, { storage: { sweepGraceSeconds: 0 } });
    assert.deepEqual(await objects('tmp/'), []);
    const left = await s3.send(new ListMultipartUploadsCommand({ Bucket: S3_TEST.bucket, Prefix: prefix }));
    assert.deepEqual(left.Uploads ?? [], [], sweeper.proc.stderr());
    const blobs = await objects('blobs/');
    const records = (await objects('images/')).filter((k) => k.includes('/_v/'));
    assert.equal(blobs.length, records.length, 'no blob without a record');
    await sweeper.proc.stop();
  });

  it('the store going away: 503 with a JSON error, discovery from memory, recovery when it is back', async () => {
    const link = new StoreLink();
    await link.up();
    const r = await replica({ ACIHOST_S3_ENDPOINT: `http://127.0.0.1:${link.port}` }, { storage: { s3: { timeoutMs: 1000 } } });
    const first = await image('2.5.0');
    assert.equal((await curlPush({ origin: r.origin, caFile: caFile(), token, aci: first.aciPath, asc: first.ascPath })).status, 201);
    const ok = await httpsRequest(`${r.origin}/-/aci/localhost/faulty/app/2.5.0/linux/amd64.aci`, { ca: await ca() });
    assert.equal(ok.status, 200);
    await link.down();
    const img = await image('3.0.0');
    const push = await curlPush({ origin: r.origin, caFile: caFile(), token, aci: img.aciPath, asc: img.ascPath });
    assert.equal(
      push.status,
      503,
      push.raw +
        r.proc
          .stderr()
          .split('\n')
          .filter((l) => l.includes('"level":50'))
          .join('\n'),
    );
    assert.equal(push.json.error.code, 'STORAGE_UNAVAILABLE');
    const download = await httpsRequest(`${r.origin}/-/aci/localhost/faulty/app/2.5.0/linux/amd64.aci`, { ca: await ca() });
    assert.equal(download.status, 503);
    assert.equal(JSON.parse(download.body.toString()).error.code, 'STORAGE_UNAVAILABLE');
    const discovery = await httpsRequest(`${r.origin}/?ac-discovery=1`, { ca: await ca() });
    assert.equal(discovery.status, 200, 'discovery answers from memory');
    assert.match(discovery.body.toString(), /localhost\/faulty\/app/);
    await link.up();
    await sleep(200);
    const again = await curlPush({ origin: r.origin, caFile: caFile(), token, aci: img.aciPath, asc: img.ascPath });
    assert.equal(again.status, 201, again.raw);
    assert.equal(r.proc.child.exitCode, null, 'the server never crashed');
    await r.proc.stop();
    await link.down();
  });
});
