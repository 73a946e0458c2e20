/**
 * The parts of a tar-stream header the layout rules need, with names as byte
 * strings (one char per byte). The extractor decodes ustar and GNU names as
 * latin1 for exactly that; PAX records it always decodes as UTF-8, so those are
 * re-encoded here. Byte strings make duplicate checks byte-exact (two invalid
 * UTF-8 names do not both become U+FFFD) and lengths count bytes.
 */

/** tar-stream's header, including the `pax` record it sets but does not type. */
export interface TarHeader {
  name: string;
  type?: string | null | undefined;
  linkname?: string | null | undefined;
  size?: number | undefined;
  pax?: Record<string, string> | null | undefined;
}

export type EntryType = 'file' | 'directory' | 'symlink' | 'link' | 'special' | 'unsupported';

export interface TarEntry {
  name: string;
  linkname: string;
  type: EntryType;
  size: number;
}

const toBytes = (utf8: string): string => Buffer.from(utf8, 'utf8').toString('latin1');

function entryType(type: TarHeader['type']): EntryType {
  switch (type) {
    case 'file':
    case 'contiguous-file':
      return 'file';
    case 'directory':
    case 'symlink':
    case 'link':
      return type;
    case 'character-device':
    case 'block-device':
    case 'fifo':
      return 'special';
    default:
      return 'unsupported'; // GNU sparse, multi-volume and other typeflags tar-stream leaves unnamed
  }
}

export function toTarEntry(h: TarHeader): TarEntry {
  const linkname = h.linkname ?? '';
  return {
    name: h.pax?.path === undefined ? h.name : toBytes(h.name),
    linkname: h.pax?.linkpath === undefined ? linkname : toBytes(linkname),
    type: entryType(h.type),
    size: h.size ?? 0,
  };
}
