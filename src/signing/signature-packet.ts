/**
 * The fields of a signature packet body that decide whether rkt can use it (RFC 4880 §5.2.3),
 * read from the bytes because openpgp.js fills `issuerKeyID` from the issuer-fingerprint
 * subpacket too, while rkt's Go reader needs the Issuer subpacket (type 16) itself.
 */

export interface SignatureFields {
  version: number;
  signatureType: number;
  isEdDsa: boolean;
  hashProblem?: string; // why the hash algorithm is refused
  issuerKeyId?: string; // 16 lowercase hex, from subpacket 16
  issuerFingerprint?: string; // 40 lowercase hex, from subpacket 33 (v4 keys)
}

const SUBPACKET_ISSUER = 16;
const SUBPACKET_ISSUER_FINGERPRINT = 33;
const EDDSA_ALGORITHMS = new Set([22, 27, 28]); // EdDSA (legacy), Ed25519, Ed448
const WEAK_HASHES: Record<number, string> = { 1: 'MD5', 2: 'SHA-1', 3: 'RIPEMD-160' };
const GOOD_HASHES = new Set([8, 9, 10, 11]); // SHA-256, SHA-384, SHA-512, SHA-224: what rkt's Go reader knows

/** Throws an Error when the body is cut short or its subpacket framing is wrong. */
export function readV4SignatureFields(body: Uint8Array): SignatureFields {
  const r = reader(body);
  const version = r.byte();
  if (version !== 4) return { version, signatureType: -1, isEdDsa: false };
  const signatureType = r.byte();
  const publicKeyAlgorithm = r.byte();
  const hash = r.byte();
  const hashed = r.bytes(r.uint16());
  const unhashed = r.bytes(r.uint16());
  const fields: SignatureFields = { version, signatureType, isEdDsa: EDDSA_ALGORITHMS.has(publicKeyAlgorithm) };
  const weak = WEAK_HASHES[hash];
  if (weak) fields.hashProblem = `the signature uses the weak ${weak} hash`;
  else if (!GOOD_HASHES.has(hash)) fields.hashProblem = `the signature uses hash algorithm ${hash}, which rkt cannot check`;
  for (const sub of [...subpackets(hashed), ...subpackets(unhashed)]) {
    if (sub.type === SUBPACKET_ISSUER && sub.body.length === 8) fields.issuerKeyId ??= hex(sub.body);
    if (sub.type === SUBPACKET_ISSUER_FINGERPRINT && sub.body[0] === 4 && sub.body.length === 21) {
      fields.issuerFingerprint ??= hex(sub.body.subarray(1));
    }
  }
  if (fields.issuerKeyId === '0000000000000000') delete fields.issuerKeyId; // the wildcard id names nobody
  return fields;
}

function* subpackets(area: Uint8Array): Generator<{ type: number; body: Uint8Array }> {
  const r = reader(area);
  while (!r.done()) {
    const first = r.byte();
    let length = first;
    if (first >= 192 && first < 255) length = ((first - 192) << 8) + r.byte() + 192;
    else if (first === 255) length = r.uint16() * 65536 + r.uint16();
    if (length === 0) throw new Error('a signature subpacket has length 0');
    const content = r.bytes(length);
    yield { type: (content[0] ?? 0) & 0x7f, body: content.subarray(1) };
  }
}

function reader(b: Uint8Array) {
  let pos = 0;
  const bytes = (n: number) => {
    if (pos + n > b.length) throw new Error('the signature packet is cut short');
    pos += n;
    return b.subarray(pos - n, pos);
  };
  return {
    done: () => pos >= b.length,
    bytes,
    byte: () => bytes(1)[0] ?? 0,
    uint16: () => {
      const [hi = 0, lo = 0] = bytes(2);
      return (hi << 8) | lo;
    },
  };
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
