/**
 * SIGKILL at every step of a publish: after a restart the image is either
 * complete (served and verified by the rkt-equivalent client) or has left no
 * trace, the startup sweep has removed what was staged, and the next push of
 * the same bytes is answered accordingly (200 or 201).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promisify } from 'node:util';
import type { DeleteStep, PublishStep } from '../../src/registry/publish/steps.ts';
import { buildAci } from '../helpers/aci-builder.ts';
import { createGpg, type Gpg, type GpgKey } from '../helpers/gpg.ts';
import { spawnServer } from '../helpers/process-server.ts';
import { curlPush } from '../helpers/push.ts';
import { freePort, runCli } from '../helpers/server.ts';
import { httpsRequest } from '../helpers/tls.ts';

const run = promisify(execFile);
const ACFETCH = new URL('../../.cache/acfetch', import.meta.url).pathname;
const STEPS: { step: PublishStep; survives: boolean }[] = [
  { step: 'staged', survives: false },
  { step: 'verified', survives: false },
  { step: 'blob-written', survives: false },
  { step: 'committed', survives: true },
  { step: 'indexed', survives: true },
];
const DELETE_STEPS: { step: DeleteStep; gone: boolean }[] = [
  { step: 'tombstoned', gone: false },
  { step: 'record-deleted', gone: true },
  { step: 'blob-deleted', gone: true },
];

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

/** Every blob belongs to a version record and every record's blob exists. */
async function assertBlobsMatchRecords(storage: string, files: string[]): Promise<void> {
  const blobs = files.filter((f) => f.startsWith('blobs/'));
  const records = await Promise.all(
    files
      .filter((f) => f.startsWith('images/') && f.includes('/_v/'))
      .map(async (f) => JSON.parse(await readFile(join(storage, f), 'utf8')).blob),
  );
  assert.deepEqual(blobs.sort(), records.sort(), 'no blob without a record, no record without a blob');
}

describe('crash at every step of a publish and of a delete', () => {
  let dir: string;
  let gpg: Gpg;
  let key: GpgKey;
  let token: string;
  let env: Record<string, string>;
  let configFile: string;
  let origin: string;
  const caFile = () => join(dir, 'certs', 'ca.pem');
  const caPem = () => readFile(caFile(), 'utf8');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'acihost-crash-'));
    const port = await freePort();
    origin = `https://localhost:${port}`;
    configFile = join(dir, 'config.json');
    await writeFile(configFile, JSON.stringify({ storage: { sweepGraceSeconds: 0 }, tls: { devCertsDir: join(dir, 'certs') } }));
    env = {
      ACIHOST_HOST: '127.0.0.1',
      ACIHOST_PORT: String(port),
      ACIHOST_PUBLIC_URL: origin,
      ACIHOST_STORAGE_DIR: join(dir, 'storage'),
      ACIHOST_LOG_LEVEL: 'warn',
    };
    gpg = await createGpg();
    key = await gpg.genKey({ algo: 'rsa2048' });
    await writeFile(join(dir, 'k.asc'), await gpg.exportPublic(key.fingerprint));
    assert.equal((await runCli(['key', 'add', '--prefix', 'localhost', join(dir, 'k.asc'), '--config', configFile], env)).code, 0);
    token = (
      await runCli(['token', 'create', '--prefix', 'localhost', '--scope', 'push', '--scope', 'delete', '--config', configFile], env)
    ).stdout.split('\n')[0]!;
  });
  after(async () => {
    await gpg?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  for (const [i, { step, survives }] of STEPS.entries()) {
    it(`killed at "${step}": ${survives ? 'the whole image' : 'no trace'} after restart`, async () => {
      const version = `1.0.${i}`;
      const aciPath = join(dir, `app-${version}.aci`);
      await writeFile(aciPath, await buildAci({ name: 'localhost/crash/app', version }));
      const ascPath = await gpg.signFile(aciPath, key.fingerprint);
      const push = () => curlPush({ origin, caFile: caFile(), token, aci: aciPath, asc: ascPath });

      const doomed = await spawnServer({ configFile, env: { ...env, ACIHOST_TEST_KILL_AT: step }, origin, caPem });
      await push().catch(() => undefined); // the connection dies with the server
      assert.equal((await doomed.exited).signal, 'SIGKILL', doomed.stderr());

      const server = await spawnServer({ configFile, env, origin, caPem });
      try {
        const storage = join(dir, 'storage');
        const files = await filesUnder(storage);
        assert.deepEqual(
          files.filter((f) => f.startsWith('tmp/')),
          [],
          'the startup sweep removed staging',
        );
        const record = `images/localhost/crash/app/_v/linux-amd64/${version}.json`;
        assert.equal(files.includes(record), survives, `version record after a kill at ${step}`);
        await assertBlobsMatchRecords(storage, files);

        const served = await httpsRequest(`${origin}/-/aci/localhost/crash/app/${version}/linux/amd64.aci`, { ca: await caPem() });
        assert.equal(served.status, survives ? 200 : 404);
        if (survives) {
          assert.ok(served.body.equals(await readFile(aciPath)));
          await run(ACFETCH, ['--cafile', caFile(), '--port', new URL(origin).port, `localhost/crash/app:${version}`]);
        }
        const again = await push();
        assert.equal(again.status, survives ? 200 : 201, again.raw);
      } finally {
        await server.stop();
      }
    });
  }

  for (const [i, { step, gone }] of DELETE_STEPS.entries()) {
    it(`delete killed at "${step}": ${gone ? 'gone entirely' : 'still whole'} after restart`, async () => {
      const version = `2.0.${i}`;
      const aciPath = join(dir, `del-${version}.aci`);
      await writeFile(aciPath, await buildAci({ name: 'localhost/crash/del', version }));
      const ascPath = await gpg.signFile(aciPath, key.fingerprint);
      const push = () => curlPush({ origin, caFile: caFile(), token, aci: aciPath, asc: ascPath });
      const path = `localhost/crash/del/${version}/linux/amd64`;

      const first = await spawnServer({ configFile, env, origin, caPem });
      assert.equal((await push()).status, 201);
      await first.stop();

      const doomed = await spawnServer({ configFile, env: { ...env, ACIHOST_TEST_KILL_AT: step }, origin, caPem });
      await httpsRequest(`${origin}/-/api/images/${path}`, {
        ca: await caPem(),
        method: 'DELETE',
        headers: { authorization: `Bearer ${token}` },
      }).catch(() => undefined);
      assert.equal((await doomed.exited).signal, 'SIGKILL', doomed.stderr());

      const server = await spawnServer({ configFile, env, origin, caPem });
      try {
        const storage = join(dir, 'storage');
        const files = await filesUnder(storage);
        await assertBlobsMatchRecords(storage, files);
        const served = await httpsRequest(`${origin}/-/aci/${path}.aci`, { ca: await caPem() });
        assert.equal(served.status, gone ? 404 : 200);
        if (!gone) assert.ok(served.body.equals(await readFile(aciPath)));
        // Once a delete has begun, the version may not silently come back.
        const again = await push();
        assert.equal(again.status, gone ? 409 : 200, again.raw);
      } finally {
        await server.stop();
      }
    });
  }
});
