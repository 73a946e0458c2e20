/**
 * `acihost import` of a tree built like the classic rkt tutorial: an RSA 2048 key with an
 * RSA subkey and a passphrase from a gpg batch file, images made by `actool build`,
 * signatures by `gpg --armor --detach-sig`, a pubkeys.gpg and a hand-written index.html at
 * the root. A dry run, the real run (with refused files) and a re-run; then the rkt
 * stand-in fetches and verifies an imported image.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { createGpg, type Gpg } from '../helpers/gpg.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { scratchFiles, storageSnapshot } from '../helpers/storage-snapshot.ts';
import { acfetch, eventually } from '../helpers/trust.ts';
import { readAudit } from '../helpers/audit.ts';

const run = promisify(execFile);

// The rkt signing guide's batch file, with a local address (gpg 2.2 ignores %pubring/%secring).
const GPG_BATCH = `%echo Generating a default key
Key-Type: RSA
Key-Length: 2048
Subkey-Type: RSA
Subkey-Length: 2048
Name-Real: Carly Container
Name-Comment: ACI signing key
Name-Email: carly@localhost
Expire-Date: 0
Passphrase: rkt
%commit
%echo done
`;

const INDEX_HTML = `<!DOCTYPE html>
<html>
  <head>
    <meta name="ac-discovery" content="localhost https://localhost/{name}-{version}-{os}-{arch}.{ext}">
    <meta name="ac-discovery-pubkeys" content="localhost https://localhost/pubkeys.gpg">
  </head>
</html>
`;

function manifest(name: string, version: string): string {
  return JSON.stringify(
    {
      acKind: 'ImageManifest',
      acVersion: '0.5.1',
      name,
      labels: [
        { name: 'version', value: version },
        { name: 'arch', value: 'amd64' },
        { name: 'os', value: 'linux' },
      ],
      app: {
        user: 'root',
        group: 'root',
        exec: ['/bin/hello'],
        eventHandlers: null,
        ports: [{ name: 'www', protocol: 'tcp', port: 5000 }],
      },
      annotations: [{ name: 'authors', value: 'Carly Container <carly@localhost>' }],
    },
    null,
    4,
  );
}

describe('acihost import of a classic static tree', () => {
  let server: TestServer;
  let carly: Gpg; // the tutorial's keyring, with a passphrase
  let stranger: Gpg; // someone whose key is not in pubkeys.gpg
  let tree: string;
  let primary: string;

  /** `actool build` of a one-file rootfs into tree/PATH, signed like the tutorial (or by `signer`, or not at all). */
  async function image(path: string, name: string, version: string, signer: Gpg | null = carly): Promise<void> {
    const layout = join(server.dir, 'layouts', path);
    await mkdir(join(layout, 'rootfs', 'bin'), { recursive: true });
    await writeFile(join(layout, 'rootfs', 'bin', 'hello'), `#!/bin/sh\necho ${name} ${version}\n`);
    await writeFile(join(layout, 'manifest'), manifest(name, version));
    const aci = join(tree, path);
    await mkdir(dirname(aci), { recursive: true });
    await run('actool', ['build', layout, aci]);
    if (!signer) return;
    const pass = signer === carly ? ['--passphrase', 'rkt'] : ['--passphrase', ''];
    await signer.gpg(['--pinentry-mode', 'loopback', ...pass, '--armor', '--output', `${aci}.asc`, '--detach-sig', aci]);
  }

  const importTree = (...args: string[]) => server.cli(['import', tree, ...args]);

  before(async () => {
    [server, carly, stranger] = await Promise.all([startTestServer(), createGpg(), createGpg()]);
    tree = join(server.dir, 'www');
    await mkdir(tree);
    const batch = await carly.writeFile('gpg-batch', GPG_BATCH);
    const made = await carly.gpg(['--status-fd', '1', '--gen-key', batch]);
    primary = /KEY_CREATED [BP] ([0-9A-F]{40})/.exec(made)![1]!.toLowerCase();
    await stranger.genKey({ algo: 'rsa3072' });
    await writeFile(join(tree, 'pubkeys.gpg'), await carly.gpg(['--armor', '--export', 'carly@localhost']));
    await writeFile(join(tree, 'index.html'), INDEX_HTML);
    await image('hello/hello-0.0.1-linux-amd64.aci', 'localhost/hello', '0.0.1');
    await image('hello/hello-0.0.2-linux-amd64.aci', 'localhost/hello', '0.0.2');
    await image('misc/any/layout.aci', 'localhost/tools/lint', 'v1.2.0');
    await image('misc/stranger.aci', 'localhost/tools/other', '1.0.0', stranger);
    await image('misc/unsigned.aci', 'localhost/tools/unsigned', '1.0.0', null);
  });
  after(async () => {
    await server?.close();
    await carly?.cleanup();
    await stranger?.cleanup();
  });

  const lineFor = (stdout: string, file: string) => stdout.split('\n').find((l) => l.includes(` ${file}:`)) ?? '';

  it('without --trust-keys, shows the keys and the prefix index.html trusted them for, and trusts nothing', async () => {
    const before = await storageSnapshot(server.storageDir);
    const r = await importTree();
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^index\.html: ac-discovery-pubkeys trusts https:\/\/localhost\/pubkeys\.gpg for localhost$/m);
    assert.match(r.stdout, /to trust the keys found here for it: --trust-keys localhost$/m);
    assert.match(
      r.stdout,
      new RegExp(`^pubkeys\\.gpg: key ${primary} rsa2048 Carly Container \\(ACI signing key\\) <carly@localhost>$`, 'm'),
    );
    assert.match(lineFor(r.stdout, 'hello/hello-0.0.1-linux-amd64.aci'), /^refused .*\(SIGNATURE_UNTRUSTED_KEY\)$/);
    assert.deepEqual(await storageSnapshot(server.storageDir), before);
  });

  it('rehearses with --dry-run: reports what would happen and stores nothing', async () => {
    const before = await storageSnapshot(server.storageDir);
    const r = await importTree('--dry-run', '--trust-keys', 'localhost');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^dry run: nothing will be stored$/m);
    assert.match(lineFor(r.stdout, 'hello/hello-0.0.1-linux-amd64.aci'), /^would publish .*localhost\/hello 0\.0\.1 linux\/amd64/);
    assert.match(r.stdout, /^5 image files: 3 would be published, 0 already present, 2 refused$/m);
    assert.deepEqual(await storageSnapshot(server.storageDir), before);
    assert.deepEqual(await scratchFiles(server.storageDir), []);
  });

  it('trusts pubkeys.gpg for the prefix, publishes each signed image and refuses the others, saying why', async () => {
    const r = await importTree('--trust-keys', 'localhost');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, new RegExp(`^  trusted ${primary} for localhost$`, 'm'));
    assert.match(r.stderr, /warning: .*3072/, 'RSA 2048 is accepted with a warning');
    assert.match(
      lineFor(r.stdout, 'hello/hello-0.0.1-linux-amd64.aci'),
      new RegExp(`^published  hello/hello-0\\.0\\.1-linux-amd64\\.aci: localhost/hello 0\\.0\\.1 linux/amd64, signed by ${primary}$`),
    );
    assert.match(lineFor(r.stdout, 'hello/hello-0.0.2-linux-amd64.aci'), /^published /);
    assert.match(lineFor(r.stdout, 'misc/any/layout.aci'), /^published .*localhost\/tools\/lint v1\.2\.0 linux\/amd64/);
    assert.match(lineFor(r.stdout, 'misc/stranger.aci'), /^refused .*not trusted.*\(SIGNATURE_UNTRUSTED_KEY\)$/);
    assert.match(lineFor(r.stdout, 'misc/unsigned.aci'), /^refused .*no signature misc\/unsigned\.aci\.asc.*\(SIGNATURE_MISSING\)$/);
    assert.match(r.stdout, /^5 image files: 3 published, 0 already present, 2 refused$/m);
    assert.deepEqual(await scratchFiles(server.storageDir), []);
  });

  it('is safe to run again: everything already present, nothing written', async () => {
    const before = await storageSnapshot(server.storageDir);
    const r = await importTree('--trust-keys', 'localhost');
    assert.equal(r.code, 1, r.stderr);
    assert.match(lineFor(r.stdout, 'hello/hello-0.0.1-linux-amd64.aci'), /^present .*already published with these bytes$/);
    assert.match(r.stdout, /^5 image files: 0 published, 3 already present, 2 refused$/m);
    assert.deepEqual(await storageSnapshot(server.storageDir), before);
  });

  it('counts published bytes as present only with a trusted signature beside them', async () => {
    const copies = join(server.dir, 'copies');
    await mkdir(copies);
    const bytes = await readFile(join(tree, 'hello/hello-0.0.1-linux-amd64.aci'));
    await writeFile(join(copies, 'unsigned.aci'), bytes);
    await writeFile(join(copies, 'stranger.aci'), bytes);
    await stranger.gpg([
      '--pinentry-mode',
      'loopback',
      '--passphrase',
      '',
      '--armor',
      '--output',
      join(copies, 'stranger.aci.asc'),
      '--detach-sig',
      join(copies, 'stranger.aci'),
    ]);
    const before = await storageSnapshot(server.storageDir);
    const r = await server.cli(['import', copies, '--json']);
    assert.equal(r.code, 1, r.stderr);
    const codes = Object.fromEntries(JSON.parse(r.stdout).images.map((i: { file: string; code?: string }) => [i.file, i.code]));
    assert.deepEqual(codes, { 'stranger.aci': 'SIGNATURE_UNTRUSTED_KEY', 'unsigned.aci': 'SIGNATURE_MISSING' });
    assert.deepEqual(await storageSnapshot(server.storageDir), before);
  });

  it('with --json, prints the same findings as one object', async () => {
    const r = await importTree('--trust-keys', 'localhost', '--json');
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.dryRun, false);
    assert.deepEqual(report.hints, [{ file: 'index.html', url: 'https://localhost/pubkeys.gpg', prefix: 'localhost', insideDomain: true }]);
    const key = report.keys.find((k: { fingerprint: string }) => k.fingerprint === primary);
    assert.deepEqual(key.trustedFor, ['localhost']);
    assert.deepEqual([report.published, report.present, report.refused], [0, 3, 2]);
    const byFile = new Map(report.images.map((i: { file: string }) => [i.file, i]));
    assert.deepEqual(byFile.get('misc/unsigned.aci'), {
      file: 'misc/unsigned.aci',
      status: 'refused',
      code: 'SIGNATURE_MISSING',
      message: (byFile.get('misc/unsigned.aci') as { message: string }).message,
    });
    assert.deepEqual(byFile.get('misc/any/layout.aci'), {
      file: 'misc/any/layout.aci',
      status: 'present',
      name: 'localhost/tools/lint',
      version: 'v1.2.0',
      os: 'linux',
      arch: 'amd64',
      signer: primary,
    });
  });

  it('makes the imported names discoverable by a running server within 2 s; acfetch fetches and verifies them', async () => {
    const file = await readFile(join(tree, 'hello/hello-0.0.1-linux-amd64.aci'));
    const id = 'sha512-' + createHash('sha512').update(gunzipSync(file)).digest('hex');
    // The server learns of the import from the CLI's catalog stamp, not from a request for the file.
    const res = await eventually(
      () => acfetch(server, ['localhost/hello:0.0.1']),
      (r) => r.code === 0,
    );
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.trim(), id);
    const lint = await acfetch(server, ['localhost/tools/lint:v1.2.0']);
    assert.equal(lint.code, 0, lint.stderr);
    const served = await server.request('/-/aci/localhost/hello/0.0.1/linux/amd64.aci');
    assert.ok(served.body.equals(file), 'served byte for byte as imported');
    const check = await server.cli(['verify']);
    assert.equal(check.code, 0, check.stdout);
    assert.match(check.stdout, /^verified 3 images: 0 problems/);
  });

  it('audits an image refused before it could be named, as a push refused that early is', async () => {
    const broken = join(server.dir, 'broken');
    await mkdir(broken);
    const aci = join(broken, 'broken.aci');
    await writeFile(aci, 'not an archive at all');
    await carly.gpg(['--pinentry-mode', 'loopback', '--passphrase', 'rkt', '--armor', '--output', `${aci}.asc`, '--detach-sig', aci]);
    const r = await server.cli(['import', broken]);
    assert.equal(r.code, 1, r.stdout);
    const code = /^refused .*\((ARCHIVE_[A-Z_]+)\)$/m.exec(lineFor(r.stdout, 'broken.aci'))?.[1];
    assert.ok(code, r.stdout);
    const refused = (await readAudit(server.storageDir)).filter((e) => e.action === 'push' && e.code === code);
    assert.deepEqual(
      refused.map((e) => [e.actor, e.result, e.name]),
      [['cli:import', 'refused', null]],
    );
  });

  it('refuses a directory that does not exist, with usage help', async () => {
    const r = await server.cli(['import', join(server.dir, 'nowhere')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /is not a directory; see `acihost help import`$/m);
  });
});
