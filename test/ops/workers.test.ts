/**
 * `acihost serve` with several worker processes (server.workers): they behave as one
 * server. Real processes, a real port shared through the cluster, real signals. Each
 * case is a behaviour a team relies on and a way workers could break it: a count split
 * between workers, a revocation one of them misses, the failed-auth limit per worker,
 * jobs run twice, a dead worker not replaced or leaving half a publish, torn log lines.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { serverSetup, spawnServer, startServerProcess, waitFor, type ProcessServer } from '../helpers/server.ts';
import { httpsRequest } from '../helpers/tls.ts';

/** The worker processes of the supervisor `pid`. */
async function workersOf(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return text.trim().split(/\s+/).filter(Boolean).map(Number).sort();
}

/** Lines of the server's standard output, parsed (its standard error is plain text). */
const logLines = (server: ProcessServer) =>
  server.proc
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('several worker processes serve as one server', { concurrency: false }, () => {
  let server: ProcessServer;
  let ca: string;
  // Each request on a connection of its own: the cluster deals connections to the workers in turn.
  const get = (path: string, token?: string, from?: string) =>
    httpsRequest(server.origin + path, {
      ca,
      headers: {
        connection: 'close',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        // A client address of its own per case (the server trusts the loopback proxy): failures do not add up across cases.
        ...(from ? { 'x-forwarded-for': from } : {}),
      },
    });

  before(async () => {
    server = await startServerProcess({
      env: { ACIHOST_WORKERS: '2', ACIHOST_VERIFY_INTERVAL_SECONDS: '1', ACIHOST_LOG_LEVEL: 'info' },
      config: {
        server: { trustProxy: ['127.0.0.1'] },
        storage: { sweepGraceSeconds: 0 },
        rateLimit: { failedAuthAttempts: 6, windowSeconds: 60 },
      },
    });
    ca = await readFile(server.caFile, 'utf8');
  });
  after(() => server?.close());

  it('starts one supervisor and two workers, which both answer', async () => {
    const workers = await workersOf(server.proc.child.pid!);
    assert.equal(workers.length, 2, `workers: ${workers.join(' ')}`);
    assert.match(server.proc.stderr(), /acihost: serving with 2 worker processes/);
    // The banner once, from the first worker.
    assert.equal(server.proc.stderr().match(/acihost: listening on/g)?.length, 1);
    // The second worker may still be starting: the cluster deals connections to those listening.
    await waitFor('requests answered by both workers', async () => {
      assert.equal((await get('/-/api/images?first')).status, 200);
      return new Set(
        logLines(server)
          .filter((l) => l.url === '/-/api/images?first')
          .map((l) => l.worker),
      ).size === 2
        ? true
        : undefined;
    });
  });

  it("one scrape counts every worker's requests", async () => {
    const counted = async () => {
      const text = (await get('/-/metrics')).body.toString();
      const line = text
        .split('\n')
        .find((l) => l.startsWith('acihost_http_requests_total{method="GET",route="/-/api/images",status="200"}'));
      return { text, count: Number(line?.split(' ').pop()) };
    };
    const before = (await counted()).count;
    for (let i = 0; i < 10; i++) assert.equal((await get('/-/api/images?n=1')).status, 200);
    const { text, count } = await counted();
    // Both workers answered some of the ten; one worker's own count would be about five.
    assert.equal(count - before, 10);
    const answered = logLines(server).filter((l) => l.url === '/-/api/images?n=1');
    assert.equal(new Set(answered.map((l) => l.worker)).size, 2, 'both workers answered');
    // What the workers share is not multiplied by them.
    assert.ok(text.includes('\nacihost_index_versions 0\n'), 'the index gauge is not summed');
  });

  it('a token revoked through one worker is refused by every worker within 2 s', async () => {
    const admin = (await server.cli(['token', 'create', '--prefix', 'localhost', '--scope', 'admin'])).stdout.split('\n')[0]!;
    const made = await httpsRequest(`${server.origin}/-/api/tokens`, {
      ca,
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify({ name: 'doomed', prefixes: ['localhost'], scopes: ['admin'] })),
    });
    assert.equal(made.status, 201, made.body.toString());
    const { token, id } = JSON.parse(made.body.toString()) as { token: string; id: string };
    // Known to both workers before it goes.
    for (let i = 0; i < 6; i++) assert.equal((await get('/-/api/tokens', token)).status, 200);
    const revoked = await httpsRequest(`${server.origin}/-/api/tokens/${id}`, {
      ca,
      method: 'DELETE',
      headers: { authorization: `Bearer ${admin}` },
    });
    assert.equal(revoked.status, 200, revoked.body.toString());
    await sleep(2000);
    const statuses = [];
    // Six, on connections dealt in turn to both workers: as many failures as the limit lets through.
    for (let i = 0; i < 6; i++) statuses.push((await get('/-/api/tokens', token, '192.0.2.1')).status);
    assert.deepEqual(statuses, Array(6).fill(401), 'every worker refuses it 2 s after');
  });

  it('runs the once-only jobs in one worker: the scheduled verification and the sweep', async () => {
    await waitFor('scheduled runs', () =>
      logLines(server).filter((l) => l.msg === 'verified published images').length >= 3 ? true : undefined,
    );
    const runs = logLines(server).filter((l) => l.msg === 'verified published images');
    assert.deepEqual(new Set(runs.map((l) => l.worker)), new Set([0]), 'every scheduled verification by worker 0');
    const sweeps = logLines(server).filter((l) => String(l.msg).startsWith('swept'));
    assert.ok(
      sweeps.every((l) => l.worker === 0),
      JSON.stringify(sweeps),
    );
  });

  it('replaces a worker that dies mid-push; the push leaves nothing published, and a retry publishes', async () => {
    const workers = await workersOf(server.proc.child.pid!);
    const image = await server.makeImage('2.0.0', 16 << 20);
    const pushing = server.push(image, ['--limit-rate', '4M']);
    // The worker holding the push is the one with a staging file open.
    const early = pushing.then((r) => `the push ended first: ${r.status} ${r.raw}`);
    const victim = await Promise.race([waitFor('a worker staging the push', () => stagingHolder(workers, server.storageDir)), early]);
    assert.equal(typeof victim, 'number', String(victim));
    process.kill(Number(victim), 'SIGKILL');
    const cut = await pushing.catch((e: Error) => ({ status: 0, raw: e.message }));
    assert.notEqual(cut.status, 201, cut.raw);
    await waitFor('a new worker in place of the dead one', async () => {
      const now = await workersOf(server.proc.child.pid!);
      return now.length === 2 && !now.includes(Number(victim)) ? now : undefined;
    });
    assert.equal((await get('/-/aci/localhost/app/2.0.0/linux/amd64.aci')).status, 404, 'nothing published');
    const stored = await readdir(server.storageDir, { recursive: true });
    assert.ok(!stored.some((f) => f.startsWith('blobs/') && !f.endsWith('blobs')), `no blob: ${stored.join(' ')}`);
    assert.ok(!stored.some((f) => f.includes('/_v/')), 'no version record');
    const again = await server.push(image);
    assert.equal(again.status, 201, again.raw);
    assert.equal((await get('/-/aci/localhost/app/2.0.0/linux/amd64.aci')).status, 200);
  });

  it("counts failed authentications across workers: the limit is the server's, not each worker's", async () => {
    const wrong = `acih_${'0'.repeat(20)}_${'x'.repeat(43)}`;
    // Six failures are allowed in the window. The cluster deals connections in turn to the workers
    // not busy taking one, most often alternately, but a worker slowed by a busy machine misses its
    // turns: from a fresh address until both workers have seen some of the six.
    for (let attempt = 0; ; attempt++) {
      const from = `192.0.2.${10 + attempt}`;
      for (let i = 0; i < 6; i++) assert.equal((await get('/-/api/tokens', wrong, from)).status, 401);
      const seen = await waitFor('the access lines', () => {
        const lines = logLines(server).filter((l) => l.ip === from);
        return lines.length === 6 ? new Set(lines.map((l) => l.worker)) : undefined;
      });
      if (seen.size < 2 && attempt < 20) continue;
      assert.equal(seen.size, 2, 'both workers saw failures');
      assert.deepEqual([(await get('/-/api/tokens', wrong, from)).status, (await get('/-/api/tokens', wrong, from)).status], [429, 429]);
      break;
    }
  });

  it('keeps every log line whole while both workers write', async () => {
    await Promise.all(Array.from({ length: 400 }, () => get('/-/health/live')));
    const lines = server.proc
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('{'));
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), line.slice(0, 200));
  });

  it('drains every worker on SIGTERM and exits 0', async () => {
    const workers = await workersOf(server.proc.child.pid!);
    server.proc.child.kill('SIGTERM');
    const { code } = await server.proc.exited;
    assert.equal(code, 0, server.proc.stderr().slice(-2000));
    for (const pid of workers) assert.throws(() => process.kill(pid, 0), 'no worker is left');
  });
});

/** Which of `workers` has a file open under the storage's staging directory. */
async function stagingHolder(workers: number[], storageDir: string): Promise<number | undefined> {
  for (const pid of workers) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => []);
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      if (target.startsWith(join(storageDir, 'tmp'))) return pid;
    }
  }
  return undefined;
}

describe('a supervisor whose workers cannot start', () => {
  it('exits 1 with one line when the port is in use', async (t) => {
    const first = await serverSetup();
    const holder = await spawnServer(first);
    t.after(() => holder.stop());
    const second = await serverSetup({ env: { ACIHOST_PORT: String(first.port), ACIHOST_WORKERS: '2' } });
    const result = await second.cli(['serve']);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, new RegExp(`^acihost: cannot listen on 127\\.0\\.0\\.1:${first.port}: the port is in use`, 'm'));
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack');
  });

  it('exits non-zero when a worker keeps dying at start, after retrying it', async () => {
    const setup = await serverSetup({ env: { ACIHOST_WORKERS: '2', ACIHOST_TEST_KILL_AT: 'worker-start', ACIHOST_LOG_LEVEL: 'warn' } });
    const result = await setup.cli(['serve']);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /acihost: workers keep dying at start \(5 times running\); stopping/);
  });
});
