import type { TokenRecord } from './tokens.ts';

/**
 * The authority of whoever runs the CLI against the server's own storage (as for `key add`):
 * push anywhere under the image domain, and nothing else, so a deleted version or any other
 * rule a push token must satisfy still applies. It is never stored, so no request can present
 * it; its id ("cli:import") marks in each version record what was imported rather than pushed.
 */
export function operatorToken(domain: string, id: string, now = new Date()): TokenRecord {
  return {
    id: `cli:${id}`,
    name: `acihost ${id}`,
    prefixes: [domain],
    scopes: ['push'],
    secretSha256: '0'.repeat(64),
    createdAt: now.toISOString(),
    expiresAt: null,
  };
}
