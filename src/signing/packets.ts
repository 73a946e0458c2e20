/**
 * Just enough of the OpenPGP packet framing (RFC 4880 §4.2) to see which packets a file holds
 * and to cut it at packet boundaries, before openpgp.js (which skips packets it does not
 * expect) reads the contents.
 */

export const TAG = {
  signature: 2,
  secretKey: 5,
  publicKey: 6,
  secretSubkey: 7,
  compressed: 8,
  literal: 11,
  onePassSignature: 4,
} as const;

export interface PacketSpan {
  tag: number;
  start: number; // offset of the header
  bodyStart: number;
  end: number; // offset just past the body
}

/** Splits `bytes` into packets; throws an Error for bad framing or partial body lengths. */
export function splitPackets(bytes: Uint8Array): PacketSpan[] {
  const spans: PacketSpan[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const span = readHeader(bytes, pos);
    if (span.end > bytes.length) throw new Error(`packet at byte ${pos} runs past the end of the data`);
    spans.push(span);
    pos = span.end;
  }
  return spans;
}

function readHeader(b: Uint8Array, start: number): PacketSpan {
  const first = b[start] ?? 0;
  if ((first & 0x80) === 0) throw new Error(`byte ${start} does not start an OpenPGP packet`);
  const at = (i: number) => {
    const v = b[start + i];
    if (v === undefined) throw new Error(`packet header at byte ${start} is cut short`);
    return v;
  };
  if (first & 0x40) {
    const tag = first & 0x3f;
    const l1 = at(1);
    if (l1 < 192) return span(tag, start, 2, l1);
    if (l1 < 224) return span(tag, start, 3, ((l1 - 192) << 8) + at(2) + 192);
    if (l1 === 255) return span(tag, start, 6, at(2) * 2 ** 24 + (at(3) << 16) + (at(4) << 8) + at(5));
    throw new Error(`packet at byte ${start} uses partial body lengths, which keys and signatures never do`);
  }
  const tag = (first >> 2) & 0x0f;
  switch (first & 0x03) {
    case 0:
      return span(tag, start, 2, at(1));
    case 1:
      return span(tag, start, 3, (at(1) << 8) + at(2));
    case 2:
      return span(tag, start, 5, at(1) * 2 ** 24 + (at(2) << 16) + (at(3) << 8) + at(4));
    default:
      return span(tag, start, 1, b.length - start - 1); // indeterminate: to the end
  }
}

const span = (tag: number, start: number, headerLength: number, bodyLength: number): PacketSpan => ({
  tag,
  start,
  bodyStart: start + headerLength,
  end: start + headerLength + bodyLength,
});
