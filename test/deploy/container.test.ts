/**
 * The container image, built from the Dockerfile and run for real with podman
 * (scripts/podman.sh: an image store of this checkout's own under .cache/). No
 * registry is reachable, so scripts/container-base.sh makes the base image
 * locally first (cached there too). A cold run builds for a few minutes; a
 * cached one takes seconds.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { buildAci } from '../helpers/aci-builder.ts';
import { createGpg, type Gpg } from '../helpers/gpg.ts';
import { curlPush } from '../helpers/push.ts';
import { freePort } from '../helpers/server.ts';
import { acfetch, eventually } from '../helpers/trust.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const PODMAN = join(ROOT, 'scripts/podman.sh');
const IMAGE = 'localhost/acihost:test';
const PROBE = 'localhost/acihost-context-probe:test';
const NAME = `acihost-test-${process.pid}`;
const MINUTE = 60_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; a non-zero exit is returned, not thrown. Builds run niced, beside other tests. */
function sh(file: string, args: string[], opts: { nice?: boolean } = {}): Promise<Run> {
  const [cmd, argv] = opts.nice ? ['nice', ['-n', '10', file, ...args]] : [file, args];
  return new Promise((resolve) => {
    execFile(cmd, argv, { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

const podman = (args: string[], opts?: { nice?: boolean }) => sh(PODMAN, args, opts);

/** Runs podman and fails the test, with its output, unless it exits 0; returns stdout. */
async function podmanOk(args: string[], opts?: { nice?: boolean }): Promise<string> {
  const r = await podman(args, opts);
  assert.equal(r.code, 0, `podman ${args.join(' ')}:\n${(r.stdout + r.stderr).slice(-4000)}`);
  return r.stdout;
}

const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

describe('container image', { timeout: 20 * MINUTE }, () => {
  const timings: string[] = [];
  let certsDir = '';
  let gpg: Gpg | undefined;

  before(
    async () => {
      let start = Date.now();
      const base = await sh(join(ROOT, 'scripts/container-base.sh'), [], { nice: true });
      assert.equal(base.code, 0, `container-base.sh:\n${base.stderr.slice(-4000)}`);
      timings.push(`base ${seconds(start)}`);
      start = Date.now();
      await podmanOk(['build', '--format', 'docker', '--pull=never', '--network=host', '-t', IMAGE, ROOT], { nice: true });
      timings.push(`image ${seconds(start)}`);
    },
    { timeout: 15 * MINUTE },
  );

  after(async () => {
    await podman(['rm', '-f', '-v', NAME]);
    if (certsDir) await rm(certsDir, { recursive: true, force: true });
    await gpg?.cleanup();
  });

  it('gets a build context without certs/, storage/, node_modules, .git, .cache or dist', { timeout: 5 * MINUTE }, async (t) => {
    // Files that must never reach a build: stand-ins for the development CA's key and stored data.
    const canaries = [join(ROOT, 'certs', `context-canary-${process.pid}.pem`), join(ROOT, 'storage', `context-canary-${process.pid}`)];
    const dir = await mkdtemp(join(tmpdir(), 'acihost-context-'));
    try {
      for (const c of canaries) await writeFile(c, 'must not reach the image\n');
      const base = (await readFile(join(ROOT, 'Dockerfile'), 'utf8')).match(/^FROM\s+(\S+)/m)![1]!;
      await writeFile(join(dir, 'Containerfile'), `FROM ${base}\nCOPY . /context\n`);
      const start = Date.now();
      await podmanOk(['build', '--pull=never', '--network=host', '-f', join(dir, 'Containerfile'), '-t', PROBE, ROOT], { nice: true });
      t.diagnostic(`context probe built in ${seconds(start)}`);
    } finally {
      for (const c of canaries) await rm(c, { force: true });
      await rm(dir, { recursive: true, force: true });
    }
    const listed = (await podmanOk(['run', '--rm', '--network=host', PROBE, 'find', '/context', '-mindepth', '1', '-printf', '%P\\n']))
      .split('\n')
      .filter(Boolean);
    for (const needed of [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'config/default.json',
      'src/cli.ts',
      'scripts/check-node.mjs',
    ]) {
      assert.ok(listed.includes(needed), `${needed} is missing from the build context`);
    }
    const leaked = listed.filter((p) =>
      /^(certs|storage|node_modules|\.git|\.cache|dist|test|test-output|bench)(\/|$)|\.(pem|key|log)$/.test(p),
    );
    assert.deepEqual(leaked, [], 'left out of the build context by .dockerignore');
  });

  it('keeps what the Dockerfile says once built: non-root, healthcheck, volumes, the storage directory', async () => {
    const [config] = JSON.parse(await podmanOk(['image', 'inspect', IMAGE])) as {
      Config: { User: string; WorkingDir: string; Env: string[]; Volumes: Record<string, unknown> };
      Healthcheck?: { Test: string[] };
      Size: number;
    }[];
    assert.equal(config!.Config.User, 'node');
    assert.equal(config!.Config.WorkingDir, '/app');
    // The OCI format drops HEALTHCHECK; the docker format keeps it.
    assert.deepEqual(config!.Healthcheck?.Test, ['CMD', 'node', 'dist/healthcheck.js']);
    assert.deepEqual(Object.keys(config!.Config.Volumes).sort(), ['/app/certs', '/certs', '/data']);
    // The memory settings are `serve`'s own (src/cli/launch.ts), not the image's.
    assert.ok(config!.Config.Env.includes('ACIHOST_STORAGE_DIR=/data/storage'), 'image env lacks the storage directory');
    timings.push(`size ${Math.round(config!.Size / 1e6)} MB`);
  });

  it('runs: healthy, the CLI by exec, a signed push by curl, a fetch by acfetch, exit 0 on stop', { timeout: 5 * MINUTE }, async (t) => {
    const port = await freePort();
    const origin = `https://localhost:${port}`;
    // The container's user (uid 1000) writes the development CA here, where this test reads it.
    certsDir = await mkdtemp(join(tmpdir(), 'acihost-container-certs-'));
    await chmod(certsDir, 0o777);
    gpg = await createGpg();
    const key = await gpg.genKey({ algo: 'rsa2048', uid: 'ci <ci@localhost>' });

    let start = Date.now();
    await podmanOk([
      'run',
      '-d',
      '--name',
      NAME,
      '--network=host',
      '-e',
      'ACIHOST_HOST=127.0.0.1',
      '-e',
      `ACIHOST_PORT=${port}`,
      '-e',
      `ACIHOST_PUBLIC_URL=${origin}`,
      '-v',
      `${certsDir}:/app/certs`,
      IMAGE,
    ]);
    const logs = async () => {
      const r = await podman(['logs', NAME]);
      return (r.stdout + r.stderr).slice(-4000);
    };

    // What the engine runs as the HEALTHCHECK, until it passes.
    let health: Run;
    for (;;) {
      health = await podman(['healthcheck', 'run', NAME]);
      if (health.code === 0 || Date.now() - start > 2 * MINUTE) break;
      const state = (await podmanOk(['inspect', '--format', '{{.State.Status}}', NAME])).trim();
      assert.equal(state, 'running', `the container stopped:\n${await logs()}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.equal(health.code, 0, `never healthy: ${health.stdout}${health.stderr}\n${await logs()}`);
    timings.push(`healthy after ${seconds(start)}`);

    // The CLI as an operator runs it: `exec` in the image's working directory, same environment.
    const keyFile = await gpg.writeFile('ci.asc', await gpg.exportPublic(key.fingerprint));
    await podmanOk(['cp', keyFile, `${NAME}:/tmp/ci.asc`]);
    const added = await podmanOk(['exec', NAME, 'node', 'dist/cli.js', 'key', 'add', '--prefix', 'localhost', '/tmp/ci.asc']);
    assert.match(added, new RegExp(`${key.fingerprint} .* trusted for localhost`));
    const token = (await podmanOk(['exec', NAME, 'node', 'dist/cli.js', 'token', 'create', '--prefix', 'localhost'])).split('\n')[0]!;
    assert.ok(token.length > 20, `token create printed ${token}`);

    const aci = await buildAci({ name: 'localhost/hello', version: '1.0.0' });
    const aciPath = await gpg.writeFile(`hello-${randomBytes(4).toString('hex')}.aci`, aci);
    const ascPath = await gpg.signFile(aciPath, key.fingerprint);
    const caFile = join(certsDir, 'ca.pem');
    // The server sees a key added by the CLI within 2 s.
    const pushed = await eventually(
      () => curlPush({ origin, caFile, token, aci: aciPath, asc: ascPath }),
      (r) => r.status === 201,
      5000,
    );
    assert.equal(pushed.status, 201, pushed.raw);

    // The push reached a worker that had seen the key; the other may take the rest of the 2 s to.
    const fetched = await eventually(
      () => acfetch({ caFile, port }, ['localhost/hello:1.0.0']),
      (r) => r.code === 0,
      5000,
    );
    assert.equal(fetched.code, 0, fetched.stderr);
    assert.equal(fetched.stdout.trim(), 'sha512-' + createHash('sha512').update(gunzipSync(aci)).digest('hex'));

    start = Date.now();
    await podmanOk(['stop', '--time', '40', NAME]);
    timings.push(`stopped in ${seconds(start)}`);
    const exit = (await podmanOk(['inspect', '--format', '{{.State.ExitCode}}', NAME])).trim();
    assert.equal(exit, '0', `exit code on SIGTERM:\n${await logs()}`);

    const volumes = (await podmanOk(['inspect', '--format', '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}', NAME]))
      .split(/\s+/)
      .filter(Boolean);
    assert.equal(volumes.length, 2, 'anonymous volumes for /data and /certs');
    await podmanOk(['rm', '-v', NAME]);
    for (const v of volumes) assert.notEqual((await podman(['volume', 'exists', v])).code, 0, `volume ${v} left behind`);
    t.diagnostic(timings.join(', '));
  });
});
