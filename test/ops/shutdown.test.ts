/**
 * Graceful shutdown of a real `acihost serve` process by real signals, with a
 * push in flight: readiness fails at once, the push either completes (within
 * the grace period) or is cut off and leaves nothing behind, and the process
 * exits 0.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { scratchFiles, storageSnapshot } from '../helpers/storage-snapshot.ts';
import { httpsRequest } from '../helpers/tls.ts';
import { startServerProcess, waitFor } from '../helpers/server.ts';

const RECORD = 'images/localhost/app/_v/linux-amd64/1.0.0.json';

describe('graceful shutdown', () => {
  it('SIGTERM: readiness 503 at once, the push in flight completes, exit 0', async (t) => {
    const server = await startServerProcess({ config: { server: { shutdownDelaySeconds: 2, shutdownGraceSeconds: 30 } } });
    t.after(() => server.close());
    const image = await server.makeImage('1.0.0', 400_000);
    // About 2 s of upload at this rate.
    const push = server.push(image, ['--limit-rate', '200k']);
    await new Promise((r) => setTimeout(r, 400));
    const sentAt = Date.now();
    server.proc.child.kill('SIGTERM');
    const ready = await waitFor('readiness to fail', async () => {
      const res = await httpsRequest(`${server.origin}/-/health/ready`, { ca: await readCa(server.caFile) });
      return res.status === 503 ? res : undefined;
    });
    assert.ok(Date.now() - sentAt < 2000, 'readiness failed within the delay');
    assert.equal(JSON.parse(ready.body.toString()).checks.lifecycle, 'shutting-down');
    const result = await push;
    assert.equal(result.status, 201, result.raw);
    const exit = await server.proc.exited;
    assert.ok(Date.now() - sentAt < 15_000, 'exited once the push was done, not at the end of the grace period');
    assert.deepEqual(exit, { code: 0, signal: null }, server.proc.stderr());
    assert.ok(await stat(join(server.storageDir, RECORD)), 'the version was published');
    assert.deepEqual(await scratchFiles(server.storageDir), []);
  });

  it('SIGINT (Ctrl-C): no readiness delay, the push in flight still completes, exit 0', async (t) => {
    // The default drain delay (5 s) applies to SIGTERM only.
    const server = await startServerProcess();
    t.after(() => server.close());
    const image = await server.makeImage('1.0.0', 300_000);
    // About 1.5 s of upload at this rate.
    const push = server.push(image, ['--limit-rate', '200k']);
    await new Promise((r) => setTimeout(r, 300));
    const sentAt = Date.now();
    server.proc.child.kill('SIGINT');
    const exit = await server.proc.exited;
    const took = Date.now() - sentAt;
    assert.deepEqual(exit, { code: 0, signal: null }, server.proc.stderr());
    assert.ok(took < 4000, `exited ${took} ms after the signal`);
    const result = await push;
    assert.equal(result.status, 201, result.raw);
    assert.ok(await stat(join(server.storageDir, RECORD)), 'the version was published');
  });

  it('SIGINT past the grace period: the cut-off push leaves nothing behind, exit 0', async (t) => {
    const server = await startServerProcess({ config: { server: { shutdownDelaySeconds: 0.2, shutdownGraceSeconds: 0.8 } } });
    t.after(() => server.close());
    const image = await server.makeImage('1.0.0', 600_000);
    const before = await storageSnapshot(server.storageDir);
    // About 12 s at this rate: far past the grace period.
    const push = server.push(image, ['--limit-rate', '50k']).catch((e: Error) => ({ status: 0, raw: e.message }));
    await new Promise((r) => setTimeout(r, 500));
    const sentAt = Date.now();
    server.proc.child.kill('SIGINT');
    const exit = await server.proc.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, server.proc.stderr());
    assert.ok(Date.now() - sentAt < 8000, `exited ${Date.now() - sentAt} ms after the signal`);
    const result = await push;
    assert.notEqual(result.status, 201);
    assert.deepEqual(await storageSnapshot(server.storageDir), before, 'nothing was published or left in storage');
    assert.deepEqual(await scratchFiles(server.storageDir), [], 'no staged upload is left');
    assert.match(server.proc.stderr(), /grace period over, closing the remaining connections/);
  });
});

const readCa = (file: string) => readFile(file, 'utf8');
