import { prefixCovers } from '../names.ts';
import type { KeyStore } from '../registry/trust/keyring.ts';
import type { Registry } from '../registry/registry.ts';
import type { TokenRecord } from '../registry/access/tokens.ts';
import { highestVersion } from '../registry/catalog/version-order.ts';
import type { VersionRecord } from '../registry/catalog/version-record.ts';
import type { ConversionRecord } from '../registry/mirror/conversions.ts';
import { compareStrings } from '../util/compare-strings.ts';

/** Names per page of the list for people; the meta tags follow their own cap (discovery-tags.ts). */
export const NAMES_PER_PAGE = 50;
/** Version rows shown for one name; the JSON API lists every one. */
export const VERSIONS_SHOWN = 50;
/** Prefixes below a path that have keys, as shown on its page; the JSON API lists every key. */
export const KEY_PREFIXES_SHOWN = 20;

export interface NameEntry {
  name: string;
  href: string;
  isPrivate: boolean;
  /** The highest version over its platforms, when the viewer may see versions. */
  latest: string | undefined;
  platforms: number;
}

export interface PageModel {
  domain: string;
  origin: string;
  /** The image name this path stands for (the domain for `/`). */
  name: string;
  isPrivate: boolean;
  /** Set when `name` itself is a stored image. */
  image?: {
    visible: boolean;
    versions: VersionRecord[];
    total: number;
    latest: Set<VersionRecord>;
  };
  below: { names: NameEntry[]; total: number; page: number; pages: number };
  /** The keys covering `name`, each with its narrowest prefix that does. */
  keys: { fingerprint: string; prefix: string; userId: string; url: string }[];
  /** Prefixes strictly below `name` that have keys of their own, sorted; `total` counts them all. */
  keyPrefixesBelow: { prefixes: string[]; total: number };
  /** The development CA's certificate file, as the server finds it, when the server serves a certificate it signed. */
  devCa?: string;
  /** The quotas that hold for `name`; use is null where the viewer may not see every name it sums. */
  quotas?: PageQuota[];
  /** The upstream repository a pull-through name mirrors (`docker://REGISTRY/REPOSITORY`). */
  mirrorOf?: string;
  /** The conversions of `name` this server made lately, newest first, when the viewer may see its versions. */
  conversions?: readonly ConversionRecord[];
}

export interface PageQuota {
  prefix: string;
  maxBytes: number | null;
  maxVersions: number | null;
  used: { bytes: number; versions: number } | null;
}

/** The path of the page for `name`: `/` for the domain, `/team/app` below it. */
export const pagePath = (domain: string, name: string): string => (name === domain ? '/' : `/${name.slice(domain.length + 1)}`);

function entry(registry: Registry, viewer: TokenRecord | undefined, name: string): NameEntry {
  const platforms = registry.catalog.latestPerPlatform(name);
  const visible = registry.access.mayRead(viewer, name);
  const highest = visible ? highestVersion(platforms)?.version : undefined;
  return {
    name,
    href: pagePath(registry.domain, name),
    isPrivate: registry.access.isPrivate(name),
    latest: highest,
    platforms: platforms.length,
  };
}

function keyPrefixesBelow(keys: KeyStore, name: string): PageModel['keyPrefixesBelow'] {
  const below = new Set<string>();
  for (const record of keys.all()) for (const p of record.prefixes) if (p !== name && prefixCovers(name, p)) below.add(p);
  const prefixes = [...below].sort(compareStrings);
  return { prefixes: prefixes.slice(0, KEY_PREFIXES_SHOWN), total: prefixes.length };
}

/** How many pages the names below `name` fill: at least one, even when there are none. */
export const pageCount = (catalog: Pick<Registry['catalog'], 'countBelow'>, name: string): number =>
  Math.max(1, Math.ceil(catalog.countBelow(name) / NAMES_PER_PAGE));

/** Everything the page for `name` shows, bounded whatever the catalogue holds. */
export function buildPageModel(registry: Registry, name: string, page: number, viewer: TokenRecord | undefined, devCa?: string): PageModel {
  const { catalog, access, keys, origin, domain } = registry;
  const total = catalog.countBelow(name);
  const pages = pageCount(catalog, name);
  const current = Math.min(Math.max(1, page), pages);
  const below = catalog.namesBelowFrom(name, (current - 1) * NAMES_PER_PAGE, NAMES_PER_PAGE).map((n) => entry(registry, viewer, n));
  const model: PageModel = {
    domain,
    origin,
    name,
    isPrivate: access.isPrivate(name),
    below: { names: below, total, page: current, pages },
    keys: keys.covering(name).map(({ record, prefix }) => ({
      fingerprint: record.fingerprint,
      prefix,
      userId: record.userIds[0] ?? '',
      url: `${origin}/-/keys/${record.fingerprint}.asc`,
    })),
    keyPrefixesBelow: keyPrefixesBelow(keys, name),
    devCa,
    quotas: registry.quotas.covering(name).map((q) => ({
      prefix: q.prefix,
      maxBytes: q.maxBytes,
      maxVersions: q.maxVersions,
      used: access.mayReadAllUnder(viewer, q.prefix) ? { bytes: q.usedBytes, versions: q.usedVersions } : null,
    })),
  };
  const mirrorOf = registry.mirror.upstreamOf(name);
  if (mirrorOf) model.mirrorOf = mirrorOf;
  const conversions = registry.conversions.recent(name);
  if (conversions.length > 0 && access.mayRead(viewer, name)) model.conversions = conversions;
  if (catalog.has(name)) {
    const visible = access.mayRead(viewer, name);
    const all = visible ? catalog.versionsOf(name) : [];
    model.image = { visible, versions: all.slice(0, VERSIONS_SHOWN), total: all.length, latest: new Set(catalog.latestPerPlatform(name)) };
  }
  return model;
}
