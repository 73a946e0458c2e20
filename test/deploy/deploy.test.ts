/**
 * What ships for deployment: the Dockerfile's structure (the promises an
 * operator relies on, checked in a moment; container.test.ts builds and runs
 * the image), the HEALTHCHECK script against real servers, and the systemd
 * unit checked by `systemd-analyze verify` on a copy rendered with paths that
 * exist on this machine.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../helpers/server.ts';
import { startOpsServer } from '../helpers/ops-server.ts';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;
const HEALTHCHECK = join(ROOT, 'src/healthcheck.ts');
// `acihost serve` sets these itself (src/runtime/runtime-settings.ts); a launcher's copy would drift.
const MEMORY_SETTINGS = /MALLOC_MMAP_THRESHOLD_|max-semi-space-size/;

/** Instructions of a Dockerfile (continuation lines joined, comments dropped), per stage. */
function dockerStages(text: string): { from: string; instructions: string[] }[] {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: { from: string; instructions: string[] }[] = [];
  for (const line of lines) {
    if (/^FROM\s/i.test(line)) stages.push({ from: line, instructions: [] });
    else stages.at(-1)?.instructions.push(line);
  }
  return stages;
}

describe('Dockerfile', () => {
  it('is multi-stage on the official Node 24 image, runs the package bin as a non-root user, with port, volumes and a healthcheck', async () => {
    const stages = dockerStages(await readFile(join(ROOT, 'Dockerfile'), 'utf8'));
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
    assert.ok(stages.length >= 2, 'multi-stage');
    for (const s of stages) assert.match(s.from, /^FROM node:24[-.\w]*(\s+AS\s+\w+)?$/i);
    const final = stages.at(-1)!.instructions;
    const one = (keyword: string) => {
      const found = final.filter((i) => i.toUpperCase().startsWith(keyword + ' '));
      assert.equal(found.length, 1, `exactly one ${keyword} in the final stage`);
      return found[0]!.slice(keyword.length + 1).trim();
    };
    const user = one('USER');
    assert.ok(user !== 'root' && user !== '0', `USER ${user}`);
    assert.equal(one('EXPOSE'), '8443');
    const volumes = JSON.parse(one('VOLUME')) as string[];
    assert.ok(volumes.includes('/data'), 'storage volume');
    assert.ok(
      volumes.some((v) => /cert/.test(v)),
      'certificate volume',
    );
    assert.match(one('ENV'), /ACIHOST_STORAGE_DIR=\/data\//);
    // The memory settings come from `serve` itself, however it is started.
    assert.doesNotMatch(one('ENV'), MEMORY_SETTINGS);
    assert.equal(pkg.scripts.start, `node ${pkg.bin.acihost} serve`);
    const cmd = JSON.parse(one('CMD')) as string[];
    assert.deepEqual(cmd, ['node', pkg.bin.acihost, 'serve'], 'CMD runs the package bin');
    const health = one('HEALTHCHECK');
    const healthCmd = JSON.parse(health.slice(health.indexOf('CMD ') + 4)) as string[];
    assert.deepEqual(healthCmd, ['node', 'dist/healthcheck.js']);
    // What the healthcheck runs is built from src/ (dist/X.js comes from src/X.ts).
    await readFile(HEALTHCHECK);
    assert.ok(
      final.some((i) => /^COPY --from=\w+ \/app\/dist/.test(i)),
      'the final stage takes dist/ from the build stage',
    );
    // Scripts that `npm run build` runs must be copied into the build stage before it.
    const build = stages[0]!.instructions;
    const runBuild = build.findIndex((i) => /^RUN npm run build\b/.test(i));
    assert.ok(runBuild > 0, 'the build stage runs npm run build');
    for (const file of pkg.scripts.build.match(/\bscripts\/[\w.-]+/g) ?? []) {
      assert.ok(
        build.slice(0, runBuild).some((i) => /^COPY\s/i.test(i) && i.includes(file)),
        `the build stage lacks ${file}`,
      );
    }
  });

  it('has a healthcheck that passes on a ready server (TLS or not) and fails when none answers', async () => {
    const check = async (env: Record<string, string>) => {
      try {
        await run(process.execPath, [HEALTHCHECK], { env: { ...process.env, ...env } });
        return 0;
      } catch (e) {
        return (e as { code: number }).code;
      }
    };
    for (const tls of ['on', 'off']) {
      const port = await freePort();
      const env = { ACIHOST_PORT: String(port), ACIHOST_PUBLIC_URL: `https://localhost:${port}`, ACIHOST_TLS: tls };
      const server = await startOpsServer({ env });
      try {
        assert.equal(await check(env), 0, `TLS ${tls}`);
      } finally {
        await server.close();
      }
      assert.equal(await check(env), 1, `TLS ${tls}, stopped`);
    }
  });
});

describe('systemd unit', () => {
  it('runs as its own user on 443 with the capability and hardening, and passes systemd-analyze verify', async () => {
    const unit = await readFile(join(ROOT, 'deploy/acihost.service'), 'utf8');
    for (const line of [
      'User=acihost',
      'AmbientCapabilities=CAP_NET_BIND_SERVICE',
      'CapabilityBoundingSet=CAP_NET_BIND_SERVICE',
      'NoNewPrivileges=true',
      'ProtectSystem=strict',
      'PrivateTmp=true',
      'ReadWritePaths=/var/lib/acihost',
      'ExecReload=/bin/kill -HUP $MAINPID',
    ]) {
      assert.ok(unit.split('\n').includes(line), `missing ${line}`);
    }
    assert.match(unit, /^Environment=.*ACIHOST_PORT=443/m);
    assert.doesNotMatch(
      unit
        .split('\n')
        .filter((l) => l.startsWith('Environment='))
        .join('\n'),
      MEMORY_SETTINGS,
    );
    assert.match(unit, /^ExecStart=\/opt\/acihost\/node_modules\/\.bin\/node \/opt\/acihost\/dist\/cli\.js serve$/m);

    // Rendered with this checkout as /opt/acihost, a scratch directory as /var/lib/acihost and an existing user.
    const dir = await mkdtemp(join(tmpdir(), 'acihost-unit-'));
    try {
      const rendered = unit
        .replaceAll('/opt/acihost', ROOT.replace(/\/$/, ''))
        .replaceAll('/var/lib/acihost', dir)
        .replace(/^User=acihost$/m, 'User=daemon')
        .replace(/^Group=acihost$/m, 'Group=daemon');
      await writeFile(join(dir, 'acihost.service'), rendered);
      const { stdout, stderr } = await run('systemd-analyze', ['verify', '--man=no', join(dir, 'acihost.service')]);
      // verify exits 0 on directives it ignores, so any message is a failure.
      assert.equal((stdout + stderr).trim(), '', 'systemd-analyze verify printed problems');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
