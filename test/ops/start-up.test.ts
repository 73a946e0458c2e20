/**
 * What a real `acihost serve` process says and runs with as it starts: the banner
 * names the address actually bound, and the server runs with the memory settings
 * (glibc's mmap threshold, V8's semi-space bound) however it was started, from
 * src/cli.ts or from the built dist/cli.js of a global install, with a bare `node`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { glob, mkdtemp, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { serverSetup, spawnServer, startServerProcess } from '../helpers/server.ts';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;

// The settings under test come from the server, not from whoever runs the tests.
delete process.env.MALLOC_MMAP_THRESHOLD_;
delete process.env.NODE_OPTIONS;

/** The serving process's command line and environment, as the kernel has them. */
async function processOf(pid: number): Promise<{ argv: string[]; env: string[] }> {
  const split = (b: Buffer) => b.toString().split('\0').filter(Boolean);
  return { argv: split(await readFile(`/proc/${pid}/cmdline`)), env: split(await readFile(`/proc/${pid}/environ`)) };
}

/**
 * The checkout's dist/ when every source is built no later than it changed (`npm test`
 * builds first), else a build of its own: a stale dist/ would test other code.
 */
async function builtCli(): Promise<{ cli: string; cleanup(): Promise<void> }> {
  for await (const source of glob('src/**/*.ts', { cwd: ROOT })) {
    const built = join(ROOT, 'dist', source.slice('src/'.length).replace(/\.ts$/, '.js'));
    const [s, b] = await Promise.all([stat(join(ROOT, source)), stat(built).catch(() => undefined)]);
    if (!b || b.mtimeMs < s.mtimeMs) return buildDist();
  }
  return { cli: join(ROOT, 'dist/cli.js'), cleanup: async () => undefined };
}

/** dist/ as `npm run build` makes it, beside links to what it reads from the package root. */
async function buildDist(): Promise<{ cli: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'acihost-dist-'));
  await run(process.execPath, [
    join(ROOT, 'node_modules/typescript/bin/tsc'),
    '-p',
    join(ROOT, 'tsconfig.json'),
    '--outDir',
    join(dir, 'dist'),
  ]);
  for (const name of ['package.json', 'config', 'node_modules']) await symlink(join(ROOT, name), join(dir, name));
  return { cli: join(dir, 'dist/cli.js'), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

describe('acihost serve start-up', () => {
  it('names the address it bound: every interface with 0.0.0.0, this machine only with 127.0.0.1', async () => {
    for (const [host, reach] of [
      ['0.0.0.0', 'every IPv4 interface'],
      ['127.0.0.1', 'this machine only'],
    ]) {
      const server = await startServerProcess({ env: { ACIHOST_HOST: host! } });
      try {
        const line = server.proc
          .stderr()
          .split('\n')
          .find((l) => l.startsWith('acihost: listening on'));
        assert.equal(
          line,
          `acihost: listening on https://${host}:${server.port} (${reach}); public URL ${server.origin}`,
          server.proc.stderr(),
        );
        assert.doesNotMatch(server.proc.stderr(), /acihost: note:/);
      } finally {
        await server.close();
      }
    }
  });

  it('notes a public URL on this machine whose port is not the one it listens on', async () => {
    const server = await startServerProcess({ env: { ACIHOST_PUBLIC_URL: 'https://localhost:8443' } });
    try {
      assert.match(
        server.proc.stderr(),
        new RegExp(
          `acihost: note: the public URL is on port 8443, and this server listens on ${server.port}: .*ACIHOST_PUBLIC_URL=https://localhost:${server.port}`,
        ),
      );
    } finally {
      await server.close();
    }
  });

  it('says in one line that its port is in use, without a stack', async () => {
    const first = await startServerProcess();
    try {
      const second = await serverSetup({ env: { ACIHOST_PORT: String(first.port) } });
      const started = await spawnServer(second).then(
        (p) => p.stop().then(() => 'started'),
        (e: Error) => e.message,
      );
      assert.match(started, new RegExp(`acihost: cannot listen on 127\\.0\\.0\\.1:${first.port}: the port is in use`));
      assert.doesNotMatch(started, /\n\s+at /);
    } finally {
      await first.close();
    }
  });

  for (const from of ['src/cli.ts', 'dist/cli.js']) {
    it(`\`node ${from} serve\` runs with MALLOC_MMAP_THRESHOLD_=131072 and --max-semi-space-size=4`, async (t) => {
      let cli: string | undefined;
      if (from === 'dist/cli.js') {
        const dist = await builtCli();
        t.after(() => dist.cleanup());
        cli = dist.cli;
      }
      const server = await startServerProcess({ cli });
      t.after(() => server.close());
      // The process that answers is the one spawned: it re-executed itself in place.
      const { argv, env } = await processOf(server.proc.child.pid!);
      assert.ok(argv.includes('--max-semi-space-size=4'), argv.join(' '));
      assert.ok(env.includes('MALLOC_MMAP_THRESHOLD_=131072'), 'the mmap threshold is in the environment');
      assert.deepEqual(argv.slice(-4), [cli ?? join(ROOT, 'src/cli.ts'), 'serve', '--config', join(server.dir, 'config.json')]);
      await server.proc.stop();
      assert.deepEqual(await server.proc.exited, { code: 0, signal: null }, 'the exit code is the server’s');
    });
  }

  it('keeps settings the operator gave, and re-executes nothing then', async (t) => {
    const server = await startServerProcess({ env: { MALLOC_MMAP_THRESHOLD_: '65536', NODE_OPTIONS: '--max-semi-space-size=2' } });
    t.after(() => server.close());
    const { argv, env } = await processOf(server.proc.child.pid!);
    assert.ok(!argv.some((a) => a.startsWith('--max-semi-space-size')), argv.join(' '));
    assert.ok(env.includes('MALLOC_MMAP_THRESHOLD_=65536'));
    assert.ok(env.includes('NODE_OPTIONS=--max-semi-space-size=2'));
  });
});
