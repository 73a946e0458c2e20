/**
 * Recognising an ACI's container format by its first bytes, as rkt does
 * (appc/spec `aci/file.go` DetectFileType); the file name says nothing.
 */

export type Compression = 'gzip' | 'bzip2' | 'xz' | 'none';

/** ustar's magic sits at offset 257, so 262 bytes decide every format. */
export const SNIFF_BYTES = 262;

const GZIP = Buffer.from([0x1f, 0x8b]);
const BZIP2 = Buffer.from('BZh', 'latin1');
const XZ = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
const USTAR = Buffer.from('ustar', 'latin1');
const USTAR_OFFSET = 257;

const startsWith = (head: Buffer, magic: Buffer): boolean => head.length >= magic.length && head.subarray(0, magic.length).equals(magic);

/**
 * The format of an archive starting with `head`; `undefined` while more bytes
 * could still change the answer, 'unknown' once they cannot. A small gzip ACI
 * can be shorter than 262 bytes, so compressed magics decide early.
 */
export function detectFormat(head: Buffer, complete: boolean): Compression | 'unknown' | undefined {
  if (startsWith(head, GZIP)) return 'gzip';
  if (startsWith(head, BZIP2)) return 'bzip2';
  if (startsWith(head, XZ)) return 'xz';
  if (head.length >= SNIFF_BYTES) {
    const magic = head.subarray(USTAR_OFFSET, USTAR_OFFSET + USTAR.length);
    return magic.equals(USTAR) ? 'none' : 'unknown';
  }
  return complete ? 'unknown' : undefined;
}
