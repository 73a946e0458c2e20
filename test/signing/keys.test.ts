import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import * as openpgp from 'openpgp';
import { hasValidArmorChecksum } from '../../src/signing/armor.ts';
import { parsePublicKeys } from '../../src/signing/keys.ts';
import { createGpg } from '../helpers/gpg.ts';
import type { Gpg, GpgKey } from '../helpers/gpg.ts';

let g: Gpg;
const k: Record<string, GpgKey> = {};

before(async () => {
  g = await createGpg();
  k.rsa3072 = await g.genKey({ algo: 'rsa3072', uid: 'ci <ci@localhost>' });
  k.rsa2048 = await g.genKey({ algo: 'rsa2048' });
  k.p256 = await g.genKey({ algo: 'nistp256' });
});
after(() => g.cleanup());

const refused = (code: string, message?: RegExp) => ({ code, kind: 'invalid', ...(message ? { message } : {}) });

describe('parsePublicKeys: accepted keys', () => {
  it('reads an armored RSA 3072 key', async () => {
    const key = k.rsa3072!;
    const [info, ...rest] = await parsePublicKeys(await g.exportPublic(key.fingerprint));
    assert.equal(rest.length, 0);
    assert.equal(info?.fingerprint, key.fingerprint);
    assert.deepEqual(info?.keyIds, [key.keyId]);
    assert.equal(info?.algorithm, 'rsa3072');
    assert.deepEqual(info?.userIds, ['ci <ci@localhost>']);
    assert.ok(info && Math.abs(info.created.getTime() - Date.now()) < 10 * 60_000);
    assert.equal(info?.expires, null);
    assert.deepEqual(info?.warnings, []);
  });

  it('re-armors each key alone with a CRC24 line, and the result reads back the same', async () => {
    const [info] = await parsePublicKeys(await g.exportPublic(k.rsa3072!.fingerprint));
    assert.ok(info && hasValidArmorChecksum(info.armored));
    assert.match(info?.armored ?? '', /^-----BEGIN PGP PUBLIC KEY BLOCK-----\n/);
    const [again] = await parsePublicKeys(info?.armored ?? '');
    assert.equal(again?.fingerprint, k.rsa3072!.fingerprint);
    assert.equal(again?.armored, info?.armored);
  });

  it('reads binary input (gpg --export) and Uint8Array armored input alike', async () => {
    const fpr = k.rsa3072!.fingerprint;
    const fromArmor = await parsePublicKeys(new TextEncoder().encode(await g.exportPublic(fpr)));
    const fromBinary = await parsePublicKeys(await g.exportPublicBinary(fpr));
    assert.equal(fromBinary[0]?.fingerprint, fpr);
    assert.equal(fromBinary[0]?.armored, fromArmor[0]?.armored);
  });

  it('accepts RSA 2048 with a warning that suggests 3072 or more', async () => {
    const [info] = await parsePublicKeys(await g.exportPublic(k.rsa2048!.fingerprint));
    assert.equal(info?.algorithm, 'rsa2048');
    assert.equal(info?.warnings.length, 1);
    assert.match(info?.warnings[0] ?? '', /RSA 2048-bit.*rsa3072/);
  });

  it('accepts ECDSA on NIST P-256', async () => {
    const [info] = await parsePublicKeys(await g.exportPublic(k.p256!.fingerprint));
    assert.equal(info?.algorithm, 'ecdsa-p256');
    assert.deepEqual(info?.warnings, []);
  });

  it('accepts DSA 2048 with a deprecation warning', async () => {
    const key = await g.genKey({ algo: 'dsa2048' });
    const [info] = await parsePublicKeys(await g.exportPublic(key.fingerprint));
    assert.equal(info?.algorithm, 'dsa2048');
    assert.match(info?.warnings.join(' ') ?? '', /DSA.*deprecated/);
  });

  it('lists a signing subkey, and not a primary key that may only certify', async () => {
    const key = await g.genKey({ algo: 'nistp256', signingSubkey: true });
    const [info] = await parsePublicKeys(await g.exportPublic(key.fingerprint));
    assert.equal(info?.fingerprint, key.fingerprint);
    assert.deepEqual(info?.keyIds, [key.subkey?.keyId]);
  });

  it('reads the expiry date and warns when it is less than 30 days away', async () => {
    const key = await g.genKey({ algo: 'nistp256', expire: '7d' });
    const [info] = await parsePublicKeys(await g.exportPublic(key.fingerprint));
    assert.ok(info?.expires instanceof Date);
    assert.ok(Math.abs((info.expires.getTime() - Date.now()) / 86_400_000 - 7) < 0.1);
    assert.match(info.warnings.join(' '), /expires on .*quick-set-expire/);
  });

  it('accepts armor without its CRC24 line and adds one', async () => {
    const armored = (await g.exportPublic(k.p256!.fingerprint)).replace(/^=.{4}\r?\n/m, '');
    assert.equal(hasValidArmorChecksum(armored), false);
    const [info] = await parsePublicKeys(armored);
    assert.ok(info && hasValidArmorChecksum(info.armored));
  });
});

describe('parsePublicKeys: files with several keys', () => {
  it('returns each key of one armor block (gpg --export A B)', async () => {
    const text = await g.gpg(['--armor', '--export', k.rsa3072!.fingerprint, k.p256!.fingerprint]);
    assert.equal(text.match(/BEGIN PGP/g)?.length, 1);
    const infos = await parsePublicKeys(text);
    assert.deepEqual(infos.map((i) => i.fingerprint).sort(), [k.rsa3072!.fingerprint, k.p256!.fingerprint].sort());
    for (const info of infos) {
      const again = await parsePublicKeys(info.armored);
      assert.deepEqual(
        again.map((i) => i.fingerprint),
        [info.fingerprint],
      );
    }
  });

  it('returns each key of concatenated armor blocks, in order', async () => {
    const text = (await g.exportPublic(k.rsa2048!.fingerprint)) + (await g.exportPublic(k.p256!.fingerprint));
    const infos = await parsePublicKeys(text);
    assert.deepEqual(
      infos.map((i) => i.fingerprint),
      [k.rsa2048!.fingerprint, k.p256!.fingerprint],
    );
  });

  it('refuses the whole file when one key fails, naming which', async () => {
    const weak = await g.genKey({ algo: 'rsa1024' });
    const text = (await g.exportPublic(k.p256!.fingerprint)) + (await g.exportPublic(weak.fingerprint));
    await assert.rejects(parsePublicKeys(text), refused('KEY_TOO_WEAK', /key 2 of 2/));
  });
});

describe('parsePublicKeys: refused keys', () => {
  it('refuses RSA below 2048 bits', async () => {
    const key = await g.genKey({ algo: 'rsa1024' });
    await assert.rejects(parsePublicKeys(await g.exportPublic(key.fingerprint)), refused('KEY_TOO_WEAK', /RSA 1024-bit.*rsa3072/));
  });

  it('refuses a gpg ed25519 key (eddsaLegacy) with the RSA recipe', async () => {
    const key = await g.genKey({ algo: 'ed25519' });
    await assert.rejects(
      parsePublicKeys(await g.exportPublic(key.fingerprint)),
      refused(
        'KEY_ALGORITHM_UNSUPPORTED',
        /rkt cannot load EdDSA keys; make an RSA 3072\+ key: gpg --quick-gen-key 'NAME <EMAIL>' rsa3072 sign 2y/,
      ),
    );
  });

  it('refuses RFC 9580 Ed25519 and Ed448 keys in v4 form', async () => {
    for (const type of ['curve25519', 'curve448'] as const) {
      const { publicKey } = await openpgp.generateKey({ type, userIDs: [{ name: 'x' }], config: { v6Keys: false } });
      await assert.rejects(parsePublicKeys(publicKey), refused('KEY_ALGORITHM_UNSUPPORTED', /EdDSA/));
    }
  });

  it('refuses v6 keys, which rkt cannot read', async () => {
    const { publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'nistP256', userIDs: [{ name: 'x' }], config: { v6Keys: true } });
    await assert.rejects(parsePublicKeys(publicKey), refused('KEY_VERSION_UNSUPPORTED', /version 6/));
  });

  it('refuses ECC curves other than the NIST ones', async () => {
    const key = await g.genKey({ algo: 'brainpoolP256r1' });
    await assert.rejects(parsePublicKeys(await g.exportPublic(key.fingerprint)), refused('KEY_ALGORITHM_UNSUPPORTED', /brainpoolP256r1/));
  });

  it('refuses a key with a Curve25519 subkey, which makes rkt drop the whole key', async () => {
    const key = await g.genKey({ algo: 'nistp256', encryptionSubkey: 'cv25519' });
    const message = new RegExp(`^subkey [0-9a-f]{16} .*curve25519.*gpg --armor --export '${key.fingerprint}!'`);
    await assert.rejects(parsePublicKeys(await g.exportPublic(key.fingerprint)), refused('KEY_ALGORITHM_UNSUPPORTED', message));
    const [info] = await parsePublicKeys(await g.exportPublic(`${key.fingerprint}!`)); // the recipe works
    assert.equal(info?.fingerprint, key.fingerprint);
  });

  it('refuses a key that cannot sign', async () => {
    const key = await g.genKey({ algo: 'nistp256', usage: 'cert' });
    await assert.rejects(
      parsePublicKeys(await g.exportPublic(key.fingerprint)),
      refused('KEY_NO_SIGNING_KEY', new RegExp(`gpg --quick-add-key ${key.fingerprint} rsa3072 sign`)),
    );
  });

  it('refuses an expired key', async () => {
    const key = await g.genKey({ algo: 'nistp256', expire: '1d', fakedTime: '20200101T000000' });
    await assert.rejects(parsePublicKeys(await g.exportPublic(key.fingerprint)), refused('KEY_EXPIRED', /expired on 2020-01-02/));
  });

  it('refuses a revoked key', async () => {
    const key = await g.genKey({ algo: 'nistp256' });
    await g.revoke(key.fingerprint);
    await assert.rejects(parsePublicKeys(await g.exportPublic(key.fingerprint)), refused('KEY_REVOKED', /revoked/));
  });

  it('refuses a private key, armored or binary, with the export recipe', async () => {
    const message = /^this is a private key; export the public half with gpg --armor --export ID$/;
    const armored = await g.exportSecret(k.p256!.fingerprint);
    await assert.rejects(parsePublicKeys(armored), refused('KEY_PRIVATE', message));
    const binary = (await openpgp.readPrivateKey({ armoredKey: armored })).write();
    await assert.rejects(parsePublicKeys(binary), refused('KEY_PRIVATE', message));
  });

  it('refuses input that is not a key', async () => {
    const armored = await g.exportPublic(k.p256!.fingerprint);
    const lines = armored.split('\n');
    const body = lines.findIndex((l) => l === '') + 1;
    lines[body] = `${lines[body]?.startsWith('A') ? 'B' : 'A'}${lines[body]?.slice(1)}`;
    const signature = await readFile(await g.signFile(await g.writeFile('data.txt', 'x'), k.p256!.fingerprint), 'utf8');
    for (const [what, input] of [
      ['empty input', ''],
      ['plain text', 'hello, I am not a key'],
      ['random bytes', new Uint8Array([0x99, 0x01, 0x0d, 1, 2, 3])],
      ['armor with a wrong CRC24', lines.join('\n')],
      ['a signature block', signature],
    ] as const) {
      await assert.rejects(parsePublicKeys(input), refused('KEY_UNREADABLE'), what);
    }
  });

  it('refuses a file over 1 MiB', async () => {
    await assert.rejects(parsePublicKeys(new Uint8Array(1024 * 1024 + 1)), { code: 'KEY_TOO_LARGE', kind: 'too-large' });
  });
});
