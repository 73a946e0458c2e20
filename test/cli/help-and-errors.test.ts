/** The command line explains itself: help per command, the version, and one-line errors that say what to do. */
import { spawnSync } from 'node:child_process';
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/server.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const COMMANDS = [
  'serve',
  'check-config',
  'key add',
  'key list',
  'key retire',
  'key activate',
  'key remove',
  'token create',
  'token list',
  'token revoke',
  'quota set',
  'quota list',
  'quota remove',
  'cert info',
  'cert renew',
  'audit',
  'verify',
  'import',
  'retention set',
  'retention list',
  'retention remove',
  'retention plan',
  'retention apply',
  'webhook add',
  'webhook list',
  'webhook remove',
  'help',
  'version',
];

const CLI = new URL('../../src/cli.ts', import.meta.url).pathname;

describe('acihost command line', () => {
  let dir: string;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli(args, env);

  before(async () => {
    dir = await tempDir('acihost-cli-');
    env = { ACIHOST_STORAGE_DIR: join(dir, 'storage'), ACIHOST_LOG_LEVEL: 'silent', ACIHOST_PUBLIC_URL: 'https://localhost:8443' };
  });

  /** A usage error: exit 2, one line on stderr pointing at the command's help, nothing on stdout. */
  function assertUsageError(r: { stdout: string; stderr: string; code: number }, help: string, message: RegExp): void {
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, message);
    assert.ok(r.stderr.includes(`see \`${help}\``), r.stderr);
  }

  describe('help', () => {
    it('gives each command its own description, usage, options and example', async () => {
      const seen = new Set<string>();
      for (const name of COMMANDS) {
        const r = await cli(...name.split(' '), '--help');
        assert.equal(r.code, 0, `${name}: ${r.stderr}`);
        assert.match(r.stdout, new RegExp(`^acihost ${name}: \\S`), name);
        assert.match(r.stdout, new RegExp(`^usage: acihost ${name}\\b`, 'm'), name);
        assert.match(r.stdout, /^options:\n {2}\S/m, name);
        assert.match(r.stdout, /^example:\n {2}.*acihost/m, name);
        seen.add(r.stdout);
        assert.equal((await cli('help', ...name.split(' '))).stdout, r.stdout, `acihost help ${name} is the same`);
      }
      assert.equal(seen.size, COMMANDS.length, 'no two commands share a help text');
    });

    it('lists the subcommands of key, token and cert', async () => {
      const key = await cli('key', '--help');
      assert.equal(key.code, 0);
      for (const sub of ['add', 'list', 'retire', 'activate', 'remove']) assert.match(key.stdout, new RegExp(`^ {2}key ${sub}\\b`, 'm'));
      assert.doesNotMatch(key.stdout, /token create/);
      assert.equal((await cli('help', 'key')).stdout, key.stdout);
      assert.match((await cli('help', 'token')).stdout, /^ {2}token revoke ID/m);
      assert.match((await cli('cert', '-h')).stdout, /^ {2}cert renew/m);
    });

    it('acihost help lists every command and the exit codes', async () => {
      const r = await cli('help');
      assert.equal(r.code, 0, r.stderr);
      for (const name of ['serve', 'check-config', 'key add|list', 'token create', 'cert info', 'audit', 'verify', 'import', 'version'])
        assert.ok(r.stdout.includes(`  ${name}`), name);
      assert.match(r.stdout, /exit codes:\n {2}0 .*\n {2}1 .*\n {2}2 .*usage or configuration/);
      assert.equal((await cli('--help')).stdout, r.stdout);
    });

    it('refuses help for a command that does not exist', async () => {
      assertUsageError(await cli('help', 'nope'), 'acihost help', /unknown command "nope"/);
      assertUsageError(await cli('help', 'key', 'nope'), 'acihost help key', /unknown key subcommand "nope"; use add, list/);
    });
  });

  describe('version', () => {
    it('--version and acihost version print the version of package.json, without reading the configuration', async () => {
      const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'));
      const broken = { ...env, ACIHOST_PORT: 'not-a-port' };
      for (const args of [['--version'], ['version']]) {
        const r = await runCli(args, broken);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, `acihost ${version}\n`);
        assert.equal(r.stderr, '');
      }
      assert.equal((await runCli(['help', 'key', 'add'], broken)).code, 0, 'nor does help');
      assert.equal((await runCli(['key', 'list'], broken)).code, 2, 'the configuration is indeed invalid');
    });
  });

  describe('options', () => {
    it('refuses an option the command does not take, naming both', async () => {
      assertUsageError(
        await cli('key', 'list', '--prefix', 'x', '--force'),
        'acihost help key list',
        /--prefix does not apply to key list/,
      );
      assertUsageError(await cli('serve', '--json'), 'acihost help serve', /--json does not apply to serve/);
      assertUsageError(await cli('token', 'list', '--bogus'), 'acihost help token list', /unknown option --bogus/);
    });

    it('refuses --json where the command prints no data', async () => {
      for (const name of ['key add', 'key retire', 'key activate', 'key remove', 'token revoke', 'cert renew', 'serve']) {
        const r = await cli(...name.split(' '), 'x', '--json');
        assertUsageError(r, `acihost help ${name}`, new RegExp(`--json does not apply to ${name}`));
      }
    });

    it('refuses a missing or misplaced option value and a repeated single option', async () => {
      assertUsageError(await cli('token', 'create', '--prefix'), 'acihost help token create', /--prefix needs a value/);
      assertUsageError(await cli('token', 'create', '--prefix', '--json'), 'acihost help token create', /--prefix needs a value/);
      assertUsageError(await cli('key', 'list', '--json=yes'), 'acihost help key list', /--json takes no value/);
      assertUsageError(
        await cli('token', 'create', '--prefix', 'localhost', '--name', 'a', '--name', 'b'),
        'acihost help token create',
        /--name is given twice/,
      );
    });
  });

  describe('usage errors', () => {
    it('print one line that points at the help, not the whole usage', async () => {
      assertUsageError(await cli('nope'), 'acihost help', /unknown command "nope"/);
      assertUsageError(await cli('key'), 'acihost help key', /key needs a subcommand: add, list, retire, activate, remove/);
      assertUsageError(await cli('key', 'nope'), 'acihost help key', /unknown key subcommand "nope"/);
      assertUsageError(await cli('token', 'create'), 'acihost help token create', /needs --prefix/);
      assertUsageError(await cli('token', 'revoke'), 'acihost help token revoke', /token revoke needs ID/);
      assertUsageError(await cli('key', 'list', 'extra'), 'acihost help key list', /key list takes no arguments, got "extra"/);
      assertUsageError(await cli('import'), 'acihost help import', /import needs DIR/);
    });

    it('audit --since takes only a real calendar day', async () => {
      for (const day of ['2026-13-45', '2026-02-30', '2025-02-29', 'yesterday', '2026-1-5'])
        assertUsageError(await cli('audit', '--since', day), 'acihost help audit', new RegExp(`--since "${day}" is not a date`));
      for (const day of ['2024-02-29', '2026-12-31']) {
        const r = await cli('audit', '--since', day);
        assert.equal(r.code, 0, `${day}: ${r.stderr}`);
      }
    });

    it('key add names a missing or unreadable key file in one line, without a stack trace', async () => {
      const missing = join(dir, 'missing.asc');
      const r = await cli('key', 'add', '--prefix', 'localhost/team', missing);
      assertUsageError(r, 'acihost help key add', new RegExp(`cannot read the key file ${missing}: no such file or directory`));
      assertUsageError(await cli('key', 'add', '--prefix', 'localhost/team', dir), 'acihost help key add', /it is a directory/);
    });
  });

  describe('--json', () => {
    it('check-config --json reports validity and every problem as JSON', async () => {
      const ok = await cli('check-config', '--json', '--connect');
      assert.equal(ok.code, 0, ok.stderr);
      assert.deepEqual(JSON.parse(ok.stdout), { valid: true, problems: [], storage: { backend: 'fs', ok: true } });
      const bad = join(dir, 'bad.json');
      await writeFile(bad, JSON.stringify({ storage: { dri: 'x' }, server: { port: 'x' } }));
      const ko = await cli('check-config', '--json', '--config', bad);
      assert.equal(ko.code, 2);
      const report = JSON.parse(ko.stdout);
      assert.equal(report.valid, false);
      assert.ok(
        report.problems.some((p: string) => p.startsWith('storage.dri: unknown key')),
        ko.stdout,
      );
      assert.ok(
        report.problems.some((p: string) => p.startsWith('server.port')),
        ko.stdout,
      );
    });

    it('import --json prints its report as one JSON object', async () => {
      const tree = join(dir, 'www');
      await mkdir(tree);
      const html = '<meta name="ac-discovery-pubkeys" content="localhost https://localhost/pubkeys.gpg">';
      await writeFile(join(tree, 'index.html'), html);
      const r = await cli('import', tree, '--json', '--dry-run');
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), {
        dir: tree,
        dryRun: true,
        hints: [{ file: 'index.html', url: 'https://localhost/pubkeys.gpg', prefix: 'localhost', insideDomain: true }],
        keys: [],
        images: [],
        published: 0,
        present: 0,
        refused: 0,
      });
    });

    it('audit accepts --json: its lines are JSON already', async () => {
      const r = await cli('audit', '--json');
      assert.equal(r.code, 0, r.stderr);
    });
  });

  describe('output to a reader that stops early', () => {
    it('ends quietly when the pipe closes, as `acihost audit | head -1` does', async () => {
      // Enough audit events that the output outlives the reader: one real event, copied.
      assert.equal((await cli('token', 'create', '--prefix', 'localhost/team')).code, 0);
      const day = join(env.ACIHOST_STORAGE_DIR!, 'audit', (await readdir(join(env.ACIHOST_STORAGE_DIR!, 'audit')))[0]!);
      const [event] = await readdir(day);
      const text = await readFile(join(day, event!));
      for (let i = 0; i < 400; i++) await writeFile(join(day, event!.replace(/\.json$/, `-${String(i).padStart(3, '0')}.json`)), text);
      const {
        stdout: out,
        stderr,
        status,
      } = spawnSync('bash', ['-o', 'pipefail', '-c', `"${process.execPath}" "${CLI}" audit | head -c 100`], {
        env: { ...process.env, ...env },
        encoding: 'utf8',
      });
      assert.equal(out.length, 100);
      assert.doesNotMatch(stderr, /EPIPE|Unhandled|at /, stderr);
      assert.equal(status, 0, stderr);
    });
  });
});
