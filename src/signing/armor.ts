/**
 * OpenPGP ASCII armor (RFC 4880 §6), written and read here rather than by openpgp.js because
 * rkt's Go reader (x/crypto/openpgp/armor) wants the CRC24 line that openpgp.js v6 treats as
 * optional: it neither checks it on input nor always writes it.
 */

export interface ArmorBlock {
  type: string; // what follows "-----BEGIN ", e.g. 'PGP SIGNATURE'
  data: Uint8Array;
  hasChecksum: boolean;
}

const CRC24_INIT = 0xb704ce;
const CRC24_POLY = 0x1864cfb;

/** CRC-24 as RFC 4880 §6.1 defines it. */
export function crc24(data: Uint8Array): number {
  let crc = CRC24_INIT;
  for (const byte of data) {
    crc ^= byte << 16;
    for (let i = 0; i < 8; i++) {
      crc <<= 1;
      if (crc & 0x1000000) crc ^= CRC24_POLY;
    }
  }
  return crc & 0xffffff;
}

const crcText = (data: Uint8Array): string => {
  const crc = crc24(data);
  return Buffer.from([crc >> 16, (crc >> 8) & 0xff, crc & 0xff]).toString('base64');
};

/** Armors `data` the way gpg does: no headers, 64-column lines, then the `=XXXX` checksum line. */
export function armorBlock(type: string, data: Uint8Array): string {
  const b64 = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return [`-----BEGIN ${type}-----`, '', ...lines, `=${crcText(data)}`, `-----END ${type}-----`, ''].join('\n');
}

const BEGIN = /^-----BEGIN ([A-Z0-9 ,/]+)-----$/;
const HEADER = /^[^\s:][^:]*: /;
const CHECKSUM = /^=[A-Za-z0-9+/]{4}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Reads every armor block in `text` (text between blocks is ignored, as gpg does). Throws an
 * Error naming the problem for a block without its END line, bad base64, or a wrong checksum;
 * a missing checksum is allowed and reported in `hasChecksum`.
 * `strict` reads lines as Go's armor reader does: no whitespace trimming, at most 96 columns.
 */
export function dearmor(text: string, options: { strict?: boolean } = {}): ArmorBlock[] {
  const strict = options.strict === true;
  const lines = text.split(/\r?\n/).map((l) => (strict ? l : l.trim()));
  const blocks: ArmorBlock[] = [];
  let i = 0;
  while (i < lines.length) {
    const type = BEGIN.exec(lines[i++]?.trim() ?? '')?.[1];
    if (type === undefined) continue;
    if (type === 'PGP SIGNED MESSAGE') {
      // Clear-signed text (RFC 4880 §7) is no armor block; report it and read on.
      blocks.push({ type, data: new Uint8Array(), hasChecksum: false });
      continue;
    }
    const [block, next] = readBlock(lines, i, type, strict);
    blocks.push(block);
    i = next;
  }
  return blocks;
}

function readBlock(lines: string[], start: number, type: string, strict: boolean): [ArmorBlock, number] {
  let i = start;
  while (i < lines.length && lines[i] !== '') {
    if (!HEADER.test(lines[i] ?? '')) throw new Error(`armor block ${type} has no blank line after its headers`);
    i++;
  }
  i++;
  const body: string[] = [];
  let checksum: string | undefined;
  for (;;) {
    const line = lines[i++];
    if (line === undefined) throw new Error(`armor block ${type} has no END line`);
    if (line === `-----END ${type}-----`) break;
    if (line.startsWith('-----')) throw new Error(`armor block ${type} ends with a wrong END line`);
    if (line === '') continue;
    if (checksum !== undefined) throw new Error(`armor block ${type} has data after its checksum line`);
    if (strict && line.length > 96) throw new Error(`armor block ${type} has a line longer than 96 characters`);
    if (CHECKSUM.test(line)) checksum = line.slice(1);
    else body.push(line);
  }
  const b64 = body.join('');
  if (!BASE64.test(b64) || b64.length % 4 === 1) throw new Error(`armor block ${type} is not valid base64`);
  const data = new Uint8Array(Buffer.from(b64, 'base64'));
  if (checksum !== undefined && checksum !== crcText(data)) {
    throw new Error(`armor block ${type} fails its CRC24 checksum (the file is damaged or was edited)`);
  }
  return [{ type, data, hasChecksum: checksum !== undefined }, i];
}

/**
 * True when the first armor block of `text` carries a CRC24 line that matches its data, read
 * as Go's x/crypto/openpgp/armor reads it (rkt 1.30 fails on a missing or wrong checksum).
 */
export function hasValidArmorChecksum(text: string): boolean {
  try {
    return dearmor(text, { strict: true })[0]?.hasChecksum === true;
  } catch {
    return false;
  }
}

/** True when `bytes` look like ASCII armor rather than binary OpenPGP packets. */
export function looksArmored(bytes: Uint8Array): boolean {
  const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  for (const b of bytes.subarray(bom)) {
    if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) continue;
    return (b & 0x80) === 0; // every binary OpenPGP packet starts with bit 7 set (RFC 4880 §4.2)
  }
  return true;
}
