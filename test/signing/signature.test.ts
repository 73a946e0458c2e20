import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { dearmor } from '../../src/signing/armor.ts';
import { splitPackets } from '../../src/signing/packets.ts';
import { hasValidArmorChecksum, readDetachedSignature } from '../../src/signing/signature.ts';
import { createGpg } from '../helpers/gpg.ts';
import type { Gpg, GpgKey } from '../helpers/gpg.ts';

let g: Gpg;
let rsa: GpgKey;
let p256: GpgKey;
let file: string;
let armored: string; // gpg --armor --detach-sign by rsa
let binary: Uint8Array; // gpg --detach-sign by rsa

before(async () => {
  g = await createGpg();
  rsa = await g.genKey({ algo: 'rsa3072' });
  p256 = await g.genKey({ algo: 'nistp256' });
  file = await g.writeFile('app.aci', 'pretend this is an image');
  armored = await readFile(await g.signFile(file, rsa.fingerprint), 'utf8');
  binary = new Uint8Array(await readFile(await g.signFile(file, rsa.fingerprint, { armor: false })));
});
after(() => g.cleanup());

const bytes = (s: string) => new TextEncoder().encode(s);
const refused = (code: string, message?: RegExp) => ({ code, kind: 'invalid', ...(message ? { message } : {}) });

describe('readDetachedSignature: accepted', () => {
  it('reads gpg armor and stores it as gpg wrote it, checksum included', async () => {
    const sig = await readDetachedSignature(bytes(armored));
    assert.equal(sig.issuerKeyId, rsa.keyId);
    assert.equal(sig.issuerFingerprint, rsa.fingerprint);
    assert.equal(sig.armored, armored);
    assert.ok(hasValidArmorChecksum(sig.armored));
  });

  it('re-armors a binary signature with a CRC24 line', async () => {
    const sig = await readDetachedSignature(binary);
    assert.equal(sig.issuerKeyId, rsa.keyId);
    assert.ok(hasValidArmorChecksum(sig.armored));
    assert.deepEqual(dearmor(sig.armored)[0]?.data, binary);
  });

  it('accepts armor without its CRC24 line and adds it back', async () => {
    const withoutCrc = armored.replace(/^=.{4}\n/m, '');
    assert.notEqual(withoutCrc, armored);
    assert.equal(hasValidArmorChecksum(withoutCrc), false);
    const sig = await readDetachedSignature(bytes(withoutCrc));
    assert.equal(sig.armored, armored);
    assert.ok(hasValidArmorChecksum(sig.armored));
  });

  it('accepts ECDSA signatures', async () => {
    const text = await readFile(await g.signFile(file, p256.fingerprint, { out: `${file}.p256.asc` }));
    const sig = await readDetachedSignature(text);
    assert.equal(sig.issuerKeyId, p256.keyId);
  });
});

describe('readDetachedSignature: refused', () => {
  it('refuses a wrong CRC24 line', async () => {
    const crc = /^=(.{4})$/m.exec(armored)?.[1] ?? '';
    const wrong = armored.replace(`=${crc}`, crc === 'AAAA' ? '=AAAB' : '=AAAA');
    await assert.rejects(readDetachedSignature(bytes(wrong)), refused('SIGNATURE_UNREADABLE', /CRC24/));
  });

  it('refuses data that is not OpenPGP', async () => {
    for (const input of [
      new Uint8Array(),
      bytes('just some text'),
      bytes('-----BEGIN PGP SIGNATURE-----\n\n!!!!\n-----END PGP SIGNATURE-----\n'),
    ]) {
      await assert.rejects(readDetachedSignature(input), refused('SIGNATURE_UNREADABLE'));
    }
    await assert.rejects(readDetachedSignature(binary.subarray(0, binary.length - 10)), refused('SIGNATURE_UNREADABLE', /past the end/));
  });

  it('refuses two concatenated signature files: rkt reads only the first', async () => {
    const second = await readFile(await g.signFile(file, p256.fingerprint, { out: `${file}.2.asc` }), 'utf8');
    await assert.rejects(readDetachedSignature(bytes(armored + second)), refused('SIGNATURE_MULTIPLE', /2 signatures.*only the first/));
    const both = new Uint8Array([...binary, ...binary]);
    await assert.rejects(readDetachedSignature(both), refused('SIGNATURE_MULTIPLE'));
  });

  it('refuses one armor block holding two signatures (gpg -u A -u B)', async () => {
    const out = `${file}.two.asc`;
    await g.gpg(['--yes', '--armor', '-u', rsa.fingerprint, '-u', p256.fingerprint, '--detach-sign', '-o', out, file]);
    const text = await readFile(out, 'utf8');
    assert.equal(text.match(/BEGIN PGP SIGNATURE/g)?.length, 1);
    await assert.rejects(readDetachedSignature(bytes(text)), refused('SIGNATURE_MULTIPLE'));
  });

  it('refuses signed messages, clear-signed text and keys', async () => {
    const signed = `${file}.gpg`;
    await g.gpg(['--yes', '-u', rsa.fingerprint, '--sign', '-o', signed, file]);
    await assert.rejects(readDetachedSignature(await readFile(signed)), refused('SIGNATURE_NOT_DETACHED', /signed message \(gpg --sign\)/));
    const armoredSigned = await g.gpg(['--armor', '-u', rsa.fingerprint, '--sign', '-o', '-', file]);
    await assert.rejects(readDetachedSignature(bytes(armoredSigned)), refused('SIGNATURE_NOT_DETACHED', /PGP MESSAGE/));
    const clear = await g.gpg(['-u', rsa.fingerprint, '--clearsign', '-o', '-', file]);
    await assert.rejects(readDetachedSignature(bytes(clear)), refused('SIGNATURE_NOT_DETACHED'));
    await assert.rejects(
      readDetachedSignature(await g.exportPublicBinary(rsa.fingerprint)),
      refused('SIGNATURE_NOT_DETACHED', /public key/),
    );
  });

  it('refuses a signature without the Issuer subpacket that rkt needs', async () => {
    const stripped = withoutIssuerSubpacket(binary);
    assert.ok(stripped.length < binary.length);
    await assert.rejects(readDetachedSignature(stripped), refused('SIGNATURE_NO_ISSUER', /issuer key id/));
  });

  it('refuses text-mode signatures, weak hashes and EdDSA signatures', async () => {
    const text = await g.signFile(file, rsa.fingerprint, { out: `${file}.text.asc`, extraArgs: ['--textmode'] });
    await assert.rejects(readDetachedSignature(await readFile(text)), refused('SIGNATURE_UNSUPPORTED', /textmode/));
    const sha1 = await g.signFile(file, rsa.fingerprint, { out: `${file}.sha1.asc`, extraArgs: ['--digest-algo', 'SHA1'] });
    await assert.rejects(readDetachedSignature(await readFile(sha1)), refused('SIGNATURE_UNSUPPORTED', /weak SHA-1/));
    const ed = await g.genKey({ algo: 'ed25519' });
    const edSig = await g.signFile(file, ed.fingerprint, { out: `${file}.ed.asc` });
    await assert.rejects(readDetachedSignature(await readFile(edSig)), refused('SIGNATURE_UNSUPPORTED', /EdDSA/));
  });

  it('refuses input over 64 KiB as too large', async () => {
    await assert.rejects(readDetachedSignature(new Uint8Array(64 * 1024 + 1)), { code: 'SIGNATURE_TOO_LARGE', kind: 'too-large' });
  });
});

/** The same signature packet with subpacket 16 (Issuer) taken out of the unhashed area. */
function withoutIssuerSubpacket(sig: Uint8Array): Uint8Array {
  const [span] = splitPackets(sig);
  assert.ok(span);
  const body = sig.subarray(span.bodyStart, span.end);
  const at = 6 + ((body[4] ?? 0) << 8) + (body[5] ?? 0);
  const length = ((body[at] ?? 0) << 8) + (body[at + 1] ?? 0);
  const unhashed = body.subarray(at + 2, at + 2 + length);
  const kept: number[] = [];
  for (let p = 0; p < unhashed.length;) {
    const n = unhashed[p] ?? 0; // gpg writes short subpackets: one length byte
    if (((unhashed[p + 1] ?? 0) & 0x7f) !== 16) kept.push(...unhashed.subarray(p, p + 1 + n));
    p += 1 + n;
  }
  const newBody = [...body.subarray(0, at), kept.length >> 8, kept.length & 0xff, ...kept, ...body.subarray(at + 2 + length)];
  const len = newBody.length - 192; // new-format two-octet length (RFC 4880 §4.2.2.2)
  assert.ok(len >= 0 && len < 8192);
  return new Uint8Array([0xc2, (len >> 8) + 192, len & 0xff, ...newBody]);
}
