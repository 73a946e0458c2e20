/**
 * `acihost verify` over a real store: clean, then with one byte of one stored ACI flipped,
 * one stored signature replaced by a valid signature over other bytes, and one stored
 * signature stripped of the CRC24 line rkt needs. Every damage is reported, the exit is 1.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promisify } from 'node:util';
import { readDetachedSignature } from '../../src/signing/signature.ts';
import { createFixture, type Fixture } from '../helpers/fixture.ts';
import { buildAci } from '../helpers/aci-builder.ts';

const run = promisify(execFile);

describe('acihost verify', () => {
  let f: Fixture;
  const recordFile = (name: string, version: string) => join(f.server.storageDir, 'images', name, '_v', 'linux-amd64', `${version}.json`);

  async function editRecord(name: string, version: string, edit: (r: Record<string, string>) => void): Promise<Record<string, string>> {
    const file = recordFile(name, version);
    const record = JSON.parse(await readFile(file, 'utf8'));
    edit(record);
    await writeFile(file, JSON.stringify(record, null, 1));
    return record;
  }

  before(async () => {
    f = await createFixture({ prefix: 'localhost/team' });
    for (const [name, version] of [
      ['localhost/team/app', '1.0.0'],
      ['localhost/team/app', '1.1.0'],
      ['localhost/team/lib', '1.0.0'],
      ['localhost/team/tool', '1.0.0'],
    ]) {
      const res = await f.push({ name, version, entries: [{ name: 'rootfs/data', body: Buffer.alloc(64 * 1024, version) }] });
      assert.equal(res.status, 201, res.raw);
    }
  });
  after(async () => f?.close());

  it('reports a clean store with a summary line and exit 0, and no progress when stderr is not a terminal', async () => {
    const r = await f.server.cli(['verify']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout, 'verified 4 images: 0 problems in 0 images\n');
    assert.equal(r.stderr, '');
  });

  it('reports a flipped byte, a replaced signature and a missing CRC24 line, one line each, and exits 1', async () => {
    const app = await editRecord('localhost/team/app', '1.0.0', () => {});
    const blob = join(f.server.storageDir, app.blob!);
    const bytes = await readFile(blob);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    await writeFile(blob, bytes);

    const other = join(f.server.dir, 'other.aci');
    await writeFile(other, await buildAci({ name: 'localhost/team/app', version: '1.1.0' }));
    const otherSig = await readDetachedSignature(await readFile(await f.gpg.signFile(other, f.key.fingerprint)));
    await editRecord('localhost/team/app', '1.1.0', (r) => (r.signature = otherSig.armored));
    await editRecord('localhost/team/lib', '1.0.0', (r) => (r.signature = r.signature!.replace(/^=[A-Za-z0-9+/]{4}\n/m, '')));

    const r = await f.server.cli(['verify']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    const summary = lines.pop()!;
    const about = (what: string) => lines.filter((l) => l.startsWith(what));
    assert.ok(
      about('localhost/team/app 1.0.0 linux/amd64: ').some((l) => l.endsWith('(IMAGE_DIGEST_MISMATCH)')),
      r.stdout,
    );
    assert.deepEqual(
      about('localhost/team/app 1.1.0 linux/amd64: ').map((l) => /\((\w+)\)$/.exec(l)?.[1]),
      ['SIGNATURE_MISMATCH'],
    );
    assert.deepEqual(
      about('localhost/team/lib 1.0.0 linux/amd64: ').map((l) => /\((\w+)\)$/.exec(l)?.[1]),
      ['SIGNATURE_ARMOR_CHECKSUM'],
    );
    assert.deepEqual(about('localhost/team/tool'), []);
    assert.match(summary, new RegExp(`^verified 4 images: ${lines.length} problems in 3 images$`));
  });

  it('gives the same findings as JSON', async () => {
    const r = await f.server.cli(['verify', '--json']);
    assert.equal(r.code, 1);
    const report = JSON.parse(r.stdout);
    assert.equal(report.checked, 4);
    const codes = report.problems.map((p: { name: string; version: string; code: string }) => `${p.name} ${p.version} ${p.code}`);
    assert.ok(codes.includes('localhost/team/app 1.0.0 IMAGE_DIGEST_MISMATCH'), codes.join('\n'));
    assert.ok(codes.includes('localhost/team/app 1.1.0 SIGNATURE_MISMATCH'));
    assert.ok(codes.includes('localhost/team/lib 1.0.0 SIGNATURE_ARMOR_CHECKSUM'));
    assert.ok(report.problems.every((p: { message: string }) => p.message.length > 0));
  });

  it('checks only the names under --prefix', async () => {
    const r = await f.server.cli(['verify', '--prefix', 'localhost/team/tool']);
    assert.equal(r.code, 0, r.stdout);
    assert.equal(r.stdout, 'verified 1 image under localhost/team/tool: 0 problems in 0 images\n');
    const app = await f.server.cli(['verify', '--prefix', 'localhost/team/app']);
    assert.equal(app.code, 1);
    assert.match(app.stdout, /^verified 2 images under localhost\/team\/app: /m);
  });

  it('shows progress on a terminal', async () => {
    const cli = new URL('../../src/cli.ts', import.meta.url).pathname;
    const command = [process.execPath, cli, 'verify', '--prefix', 'localhost/team/tool'].map((a) => `'${a}'`).join(' ');
    const { stdout } = await run('script', ['-qec', command, '/dev/null'], { env: { ...process.env, ...f.server.env } });
    assert.match(stdout, /\r\x1b\[Kverified 1 image, [0-9.]+ MiB\r\x1b\[Kverified 1 image under/);
  });
});
