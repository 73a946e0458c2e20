/**
 * Pull-through by three replicas on one S3 bucket (Ceph RGW): sixteen clients asking for the
 * same unconverted version at once, spread over the replicas, get one conversion and
 * sixteen identical answers.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AuditEvent } from '../../src/registry/audit-log.ts';
import { S3Storage } from '../../src/storage/s3-storage.ts';
import { aciPath, MIRROR_PREFIX, SIGNING_SECRET } from '../helpers/mirror-fixture.ts';
import { buildStandardImages, STANDARD_IMAGES } from '../helpers/oci-images.ts';
import { s3Env, s3Options, uniquePrefix, s3Ready } from '../helpers/s3.ts';
import { serverSetup, spawnServer, type ServerProcess, type ServerSetup } from '../helpers/server.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { httpsRequest } from '../helpers/tls.ts';
import { pushLayout, startUpstreamRegistry, type UpstreamRegistry } from '../helpers/upstream-registry.ts';

// The cluster may still be starting (test/global-setup.ts).
await s3Ready();

describe('pull-through by three replicas on one S3 bucket', () => {
  const prefix = uniquePrefix('mirror');
  const storage = new S3Storage(s3Options(prefix));
  let upstream: UpstreamRegistry;
  let setups: ServerSetup[];
  const replicas: ServerProcess[] = [];

  before(async () => {
    upstream = await startUpstreamRegistry();
    const work = await tempDir('mirror-replicas-');
    const layout = await buildStandardImages(work);
    await pushLayout(upstream, layout, STANDARD_IMAGES.full, 'library/shared:1.0', { format: 'v2s2' });
    const config = { mirrors: { upstreams: [{ source: `${upstream.host}/library/*`, prefix: MIRROR_PREFIX, caFile: upstream.caFile }] } };
    const env = { ...s3Env(prefix), ACIHOST_SIGNING_SECRET: SIGNING_SECRET };
    setups = await Promise.all([0, 1, 2].map(() => serverSetup({ config, env, certsDir: join(work, 'certs') })));
    const made = await setups[0]!.cli(['key', 'generate', '--prefix', 'localhost/mirror']);
    assert.equal(made.code, 0, made.stderr);
    // One after the other: the first makes the development CA the others use.
    for (const setup of setups) replicas.push(await spawnServer(setup));
  });
  after(async () => {
    for (const r of replicas) await r.stop();
    await upstream?.stop();
    await storage.close();
  });

  it('sixteen clients at once: one conversion, sixteen identical answers', async () => {
    const ca = await readFile(setups[0]!.caFile, 'utf8');
    const path = aciPath(`${MIRROR_PREFIX}/shared`, '1.0');
    const answers = await Promise.all(
      Array.from({ length: 16 }, (_, i) => httpsRequest(setups[i % 3]!.origin + path, { ca, timeoutMs: 60_000 })),
    );
    assert.deepEqual(
      answers.map((a) => a.status),
      answers.map(() => 200),
      answers.map((a) => a.body.toString().slice(0, 200)).join('\n'),
    );
    assert.equal(new Set(answers.map((a) => a.body.toString('base64'))).size, 1);
    const events: AuditEvent[] = [];
    for await (const o of storage.list('audit/')) events.push(JSON.parse((await storage.get(o.key))!.toString()) as AuditEvent);
    const pushes = events.filter((e) => e.action === 'push' && e.actor === 'mirror');
    assert.deepEqual(
      pushes.map((e) => e.result),
      ['created'],
      'one conversion published, none started twice',
    );
  });
});
