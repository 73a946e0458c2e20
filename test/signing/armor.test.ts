import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as openpgp from 'openpgp';
import { armorBlock, crc24, dearmor, hasValidArmorChecksum, looksArmored } from '../../src/signing/armor.ts';

const data = new Uint8Array(Array.from({ length: 200 }, (_, i) => (i * 37) & 0xff));

describe('crc24', () => {
  it('matches the RFC 4880 algorithm on known vectors', () => {
    assert.equal(crc24(new Uint8Array()), 0xb704ce);
    assert.equal(crc24(new TextEncoder().encode('123456789')), 0x21cf02);
  });
});

describe('armorBlock', () => {
  it('writes 64-column lines and a checksum line that dearmor accepts', () => {
    const text = armorBlock('PGP SIGNATURE', data);
    const lines = text.split('\n');
    assert.equal(lines[0], '-----BEGIN PGP SIGNATURE-----');
    assert.equal(lines[1], '');
    assert.ok(lines.slice(2, -3).every((l) => l.length <= 64));
    assert.match(lines.at(-3) ?? '', /^=[A-Za-z0-9+/]{4}$/);
    assert.equal(lines.at(-2), '-----END PGP SIGNATURE-----');
    const [block] = dearmor(text);
    assert.deepEqual(block, { type: 'PGP SIGNATURE', data, hasChecksum: true });
    assert.equal(hasValidArmorChecksum(text), true);
  });
});

describe('dearmor', () => {
  const text = armorBlock('PGP SIGNATURE', data);
  const withoutCrc = text.replace(/^=.{4}\n/m, '');
  const wrongCrc = text.replace(/^=.{4}$/m, '=AAAA');

  it('accepts a block without checksum and says so', () => {
    const [block] = dearmor(withoutCrc);
    assert.equal(block?.hasChecksum, false);
    assert.deepEqual(block?.data, data);
  });
  it('refuses a wrong checksum', () => {
    assert.throws(() => dearmor(wrongCrc), /CRC24/);
  });
  it('reads headers, CRLF line ends and several blocks, ignoring text around them', () => {
    const crlf = text.replace('\n\n', '\nVersion: GnuPG v2\nComment: hi\n\n').replaceAll('\n', '\r\n');
    const blocks = dearmor(`garbage\n${crlf}between\n${armorBlock('PGP PUBLIC KEY BLOCK', data)}`);
    assert.deepEqual(
      blocks.map((b) => b.type),
      ['PGP SIGNATURE', 'PGP PUBLIC KEY BLOCK'],
    );
  });
  it('refuses a block without END line or with bad base64', () => {
    assert.throws(() => dearmor(text.replace(/-----END.*\n/, '')), /no END line/);
    const lines = text.split('\n');
    lines[2] = `*${lines[2]?.slice(1)}`;
    assert.throws(() => dearmor(lines.join('\n')), /base64/);
  });
});

describe('hasValidArmorChecksum', () => {
  const text = armorBlock('PGP SIGNATURE', data);
  it('is false for a missing or a wrong checksum line', () => {
    assert.equal(hasValidArmorChecksum(text.replace(/^=.{4}\n/m, '')), false);
    assert.equal(hasValidArmorChecksum(text.replace(/^=.{4}$/m, '=AAAA')), false);
  });
  it('is false for damaged data under a correct-looking checksum', () => {
    const lines = text.split('\n');
    lines[2] = `${lines[2]?.startsWith('A') ? 'B' : 'A'}${lines[2]?.slice(1)}`;
    const damaged = lines.join('\n');
    assert.notEqual(damaged, text);
    assert.equal(hasValidArmorChecksum(damaged), false);
  });
  it('is false for text without armor and for lines longer than Go accepts', () => {
    assert.equal(hasValidArmorChecksum('hello'), false);
    const long = armorBlock('PGP SIGNATURE', data).split('\n');
    const oneLine = [long[0], '', long.slice(2, -3).join(''), long.at(-3), long.at(-2), ''].join('\n');
    assert.equal(hasValidArmorChecksum(oneLine), false);
  });
  it('judges what openpgp.js writes', async () => {
    const { publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'nistP256', userIDs: [{ name: 'x' }] });
    assert.equal(hasValidArmorChecksum(publicKey), /^=[A-Za-z0-9+/]{4}$/m.test(publicKey));
  });
});

describe('looksArmored', () => {
  it('tells armor from binary packets', () => {
    assert.equal(looksArmored(new TextEncoder().encode('\n  -----BEGIN PGP')), true);
    assert.equal(looksArmored(new Uint8Array([0xef, 0xbb, 0xbf, 0x2d])), true);
    assert.equal(looksArmored(new Uint8Array([0x89, 0x01])), false);
    assert.equal(looksArmored(new Uint8Array([0xc2, 0x01])), false);
  });
});
