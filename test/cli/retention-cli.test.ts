/**
 * `acihost retention ...` and `acihost audit export` against a filesystem storage: what
 * each prints and exits with, plan and apply agreeing line for line, and the audit trail
 * (policy changes by the CLI user, removals by the retention actor).
 */
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditEvent } from '../../src/registry/audit-log.ts';
import { DAY, pushedAgo, seedVersions } from '../helpers/retention.ts';
import { runCli } from '../helpers/server.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const NOW = Date.now();
const RELEASE = String.raw`^v?\d+\.\d+\.\d+$`;
const APP = 'localhost/team/app';
const RECORDS = [
  pushedAgo(APP, '1.0.0', 10 * DAY, NOW),
  ...[1, 2, 3, 4, 5].map((n) => pushedAgo(APP, `1.1.0-dev.${n}`, (6 - n) * DAY, NOW, 'amd64', n)),
  pushedAgo('localhost/other', 'old', 30 * DAY, NOW),
  pushedAgo('localhost/other', 'new', 1 * DAY, NOW),
];

describe('acihost retention', () => {
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli(args, env);
  const ok = async (...args: string[]) => {
    const r = await cli(...args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  const auditEvents = async (...args: string[]): Promise<AuditEvent[]> =>
    (await ok('audit', 'export', ...args)).stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AuditEvent);

  before(async () => {
    const storageDir = join(await tempDir('acihost-retention-cli-'), 'storage');
    await seedVersions(storageDir, RECORDS);
    env = { ACIHOST_STORAGE_DIR: storageDir, ACIHOST_LOG_LEVEL: 'silent', ACIHOST_PUBLIC_URL: 'https://localhost:8443' };
  });

  it('lists no policies at first, saying how to set one', async () => {
    const r = await ok('retention', 'list');
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /no retention policies; set one with acihost retention set/);
    assert.equal((await ok('retention', 'list', '--json')).stdout, '[]\n');
  });

  it('refuses bad options with a usage error (exit 2) and bad policies with their code (exit 1)', async () => {
    const usage = [
      [['retention', 'set', '--keep', '2'], /needs one --prefix/],
      [['retention', 'set', '--prefix', 'localhost/a', '--prefix', 'localhost/b'], /needs one --prefix/],
      [['retention', 'set', '--prefix', 'localhost', '--keep', '0'], /--keep "0" is not a whole number/],
      [['retention', 'set', '--prefix', 'localhost', '--keep', 'all'], /--keep "all" is not a whole number/],
      [['retention', 'set', '--prefix', 'localhost', '--max-age', '3x'], /--max-age "3x" is not a duration/],
      [['retention', 'set', '--prefix', 'localhost', '--grace', 'soon'], /--grace "soon" is not a duration/],
      [['retention', 'plan', '--prefix', 'localhost/a', '--prefix', 'localhost/b'], /at most one --prefix/],
      [['retention', 'apply', 'now'], /takes no arguments/],
      [['retention', 'list', '--keep', '1'], /--keep does not apply to retention list/],
    ] as const;
    for (const [args, message] of usage) {
      const r = await cli(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const refused = [
      [['retention', 'set', '--prefix', 'example.com/team', '--keep', '1'], 'RETENTION_PREFIX_OUTSIDE_DOMAIN'],
      [['retention', 'set', '--prefix', 'localhost/Team', '--keep', '1'], 'RETENTION_PREFIX_INVALID'],
      [['retention', 'set', '--prefix', 'localhost', '--protect', '(v'], 'RETENTION_PATTERN_INVALID'],
      [['retention', 'remove', '--prefix', 'localhost/none'], 'RETENTION_POLICY_NOT_FOUND'],
      [['retention', 'plan', '--prefix', 'elsewhere'], 'RETENTION_PREFIX_OUTSIDE_DOMAIN'],
    ] as const;
    for (const [args, code] of refused) {
      const r = await cli(...args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stderr.includes(`(${code})`), r.stderr);
    }
    assert.equal((await ok('retention', 'list', '--json')).stdout, '[]\n', 'nothing refused was stored');
  });

  it('sets a policy, confirms its rules and lists it, in words and as JSON', async () => {
    const set = await ok(
      'retention',
      'set',
      '--prefix',
      'localhost/team/',
      '--keep',
      '2',
      '--max-age',
      '4d',
      '--protect',
      RELEASE,
      '--grace',
      '1h',
    );
    assert.equal(set.stdout, `localhost/team  keep 2  max-age 4d  protect ${RELEASE}  grace 1h\n`);
    await ok('retention', 'set', '--prefix', 'localhost', '--max-age', '2w');
    await ok('retention', 'set', '--prefix', 'localhost/team/frozen');
    assert.equal(
      (await ok('retention', 'list')).stdout,
      [
        'localhost  max-age 2w  grace 0',
        `localhost/team  keep 2  max-age 4d  protect ${RELEASE}  grace 1h`,
        'localhost/team/frozen  removes nothing (no --keep or --max-age): shields localhost/team/frozen from broader policies',
        '',
      ].join('\n'),
    );
    const listed = JSON.parse((await ok('retention', 'list', '--json')).stdout);
    assert.deepEqual(
      listed.map(({ updatedAt: _at, ...p }: { updatedAt: string }) => p),
      [
        { prefix: 'localhost', keep: null, maxAgeSeconds: 14 * 86400, protect: null, graceSeconds: 0 },
        { prefix: 'localhost/team', keep: 2, maxAgeSeconds: 4 * 86400, protect: RELEASE, graceSeconds: 3600 },
        { prefix: 'localhost/team/frozen', keep: null, maxAgeSeconds: null, protect: null, graceSeconds: 0 },
      ],
    );
    const removed = await ok('retention', 'remove', '--prefix', 'localhost/team/frozen');
    assert.equal(removed.stdout, 'removed the retention policy of localhost/team/frozen\n');
  });

  it('plan prints NAME VERSION OS ARCH lines and the bytes on stderr; apply removes exactly those', async () => {
    // localhost/team: 1.0.0 is protected (and latest), dev.5 and dev.4 the newest two, dev.3 within 4 days.
    const expected = [`${APP} 1.1.0-dev.1 linux amd64`, `${APP} 1.1.0-dev.2 linux amd64`, 'localhost/other old linux amd64'];
    const plan = await ok('retention', 'plan');
    assert.deepEqual(plan.stdout.split('\n').filter(Boolean).sort(), expected.sort());
    assert.equal(plan.stderr, `would remove 3 versions under localhost, freeing 0.0 MiB (${3 * 2048} bytes)\n`);
    const json = JSON.parse((await ok('retention', 'plan', '--prefix', 'localhost/team', '--json')).stdout);
    assert.deepEqual(
      [json.prefix, json.count, json.bytes, json.versions.map((v: { version: string; policy: string }) => `${v.version} ${v.policy}`)],
      ['localhost/team', 2, 2 * 2048, ['1.1.0-dev.1 localhost/team', '1.1.0-dev.2 localhost/team']],
    );

    const apply = await ok('retention', 'apply');
    assert.equal(apply.stdout, plan.stdout, 'the same lines, in the same order');
    assert.equal(apply.stderr, `removed 3 versions under localhost, freeing 0.0 MiB (${3 * 2048} bytes)\n`);
    const again = await ok('retention', 'plan');
    assert.deepEqual([again.stdout, again.stderr], ['', 'would remove 0 versions under localhost, freeing 0.0 MiB (0 bytes)\n']);
    const applyAgain = JSON.parse((await ok('retention', 'apply', '--json')).stdout);
    assert.deepEqual([applyAgain.count, applyAgain.versions], [0, []]);
  });

  it('audit export shows the policy changes by the CLI user and each removal by retention', async () => {
    const events = await auditEvents();
    const changes = events.filter((e) => e.action.startsWith('retention.'));
    assert.deepEqual(
      changes.map((e) => `${e.action} ${e.name} ${e.result}`),
      [
        'retention.set localhost/team created',
        'retention.set localhost created',
        'retention.set localhost/team/frozen created',
        'retention.remove localhost/team/frozen removed',
      ],
    );
    assert.ok(changes.every((e) => e.actor?.startsWith('cli:')));
    assert.deepEqual(changes[0]!.detail, { keep: 2, maxAgeSeconds: 4 * 86400, protect: RELEASE, graceSeconds: 3600 });
    const deletes = events.filter((e) => e.action === 'delete');
    assert.deepEqual(deletes.map((e) => `${e.actor} ${e.name} ${e.version} ${e.result} ${JSON.stringify(e.detail)}`).sort(), [
      'retention localhost/other old deleted {"policy":"localhost"}',
      `retention ${APP} 1.1.0-dev.1 deleted {"policy":"localhost/team"}`,
      `retention ${APP} 1.1.0-dev.2 deleted {"policy":"localhost/team"}`,
    ]);
    assert.deepEqual(await auditEvents('--since', new Date(NOW + DAY).toISOString().slice(0, 10)), []);
    assert.equal((await ok('audit')).stdout, (await ok('audit', 'export')).stdout, 'audit alone prints the same');
    const wrong = await cli('audit', 'import');
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /audit takes export or nothing, got "import"/);
  });
});
