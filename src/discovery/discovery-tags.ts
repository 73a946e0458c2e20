import type { Catalog } from '../registry/catalog/catalog.ts';
import type { KeyStore } from '../registry/trust/keyring.ts';
import { urls } from './urls.ts';

export type MetaName = 'ac-discovery' | 'ac-discovery-pubkeys' | 'ac-push-discovery';

export interface MetaTag {
  name: MetaName;
  prefix: string;
  url: string;
}

/** Past this many names below a path, one tag for the path itself stands for all of them (docs/http-api.md#discovery-and-files). */
export const MAX_NAMES_PER_PAGE = 100;

/**
 * The meta tags for the discovery page of `name` (the image domain plus the
 * request path), or null when nothing is stored or trusted there, so the client
 * walks up. Per name the order is ac-discovery, then ac-discovery-pubkeys,
 * then ac-push-discovery: rkt uses the first endpoint it finds.
 */
export function discoveryTags(opts: {
  name: string;
  catalog: Catalog;
  keys: KeyStore;
  origin: string;
  /** A pull-through prefix covers the name: it is served once asked for, stored or not. */
  mirrored?: boolean;
}): MetaTag[] | null {
  const { name, catalog, keys, origin } = opts;
  const below = catalog.namesBelow(name, MAX_NAMES_PER_PAGE + 1);
  const groups = below.length > MAX_NAMES_PER_PAGE ? [name] : catalog.has(name) || opts.mirrored ? [name, ...below] : below;
  const tags: MetaTag[] = [];
  for (const group of groups) {
    tags.push({ name: 'ac-discovery', prefix: group, url: urls.aciTemplate(origin) });
    tags.push(...pubkeyTags(group, keys, origin));
    tags.push(pushTag(group, origin));
  }
  if (tags.length === 0) {
    // Nothing stored here yet: the keys' prefixes also carry the push endpoint, so the
    // first acpush of a new name under a trusted prefix finds where to go.
    const keyTags = pubkeyTags(name, keys, origin);
    tags.push(...keyTags, ...[...new Set(keyTags.map((t) => t.prefix))].map((prefix) => pushTag(prefix, origin)));
  }
  return tags.length > 0 ? tags : null;
}

const pushTag = (prefix: string, origin: string): MetaTag => ({ name: 'ac-push-discovery', prefix, url: urls.pushTemplate(origin) });

function pubkeyTags(name: string, keys: KeyStore, origin: string): MetaTag[] {
  return keys.covering(name).map(({ record, prefix }) => ({
    name: 'ac-discovery-pubkeys' as const,
    prefix,
    url: urls.key(origin, record.fingerprint),
  }));
}
