/**
 * Reads the hand-written index.html of a classic static ACI host for its
 * `<meta name="ac-discovery-pubkeys" content="PREFIX URL">` tags, the prefixes its keys
 * were trusted for, so `acihost import` can suggest one for --trust-keys. Parsed like appc's
 * discovery does: any meta tag anywhere, attribute entities unescaped, content split at the
 * first space.
 */
export interface PubkeysTag {
  prefix: string;
  url: string;
}

const META = /<meta\b([^>]*)>/gi;
const ATTRIBUTE = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))/g;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function unescape(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, e: string) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[e.toLowerCase()] ?? whole;
  });
}

function attributes(tag: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of tag.matchAll(ATTRIBUTE)) out.set(m[1]!.toLowerCase(), unescape(m[2] ?? m[3] ?? m[4] ?? ''));
  return out;
}

export function pubkeysTags(html: string): PubkeysTag[] {
  const tags: PubkeysTag[] = [];
  for (const m of html.matchAll(META)) {
    const attrs = attributes(m[1]!);
    if (attrs.get('name') !== 'ac-discovery-pubkeys') continue;
    const content = (attrs.get('content') ?? '').trim();
    const space = content.indexOf(' ');
    if (space <= 0) continue;
    tags.push({ prefix: content.slice(0, space), url: content.slice(space + 1).trim() });
  }
  return tags;
}
