import type { TokenRecord } from '../../registry/access/tokens.ts';
import type { QuotaUse } from '../../registry/quota/quotas.ts';
import type { Registry } from '../../registry/registry.ts';

/**
 * Quotas as the JSON API shows them (the `Quota` schema). The limits are public; what is used
 * sums the sizes of the names below, so it is null for a viewer who may not see all of them.
 */
export function quotasJson(registry: Registry, viewer: TokenRecord | undefined, quotas: QuotaUse[]) {
  return quotas.map((q) => {
    const visible = registry.access.mayReadAllUnder(viewer, q.prefix);
    return {
      prefix: q.prefix,
      maxBytes: q.maxBytes,
      maxVersions: q.maxVersions,
      usedBytes: visible ? q.usedBytes : null,
      usedVersions: visible ? q.usedVersions : null,
      setAt: q.setAt,
    };
  });
}
