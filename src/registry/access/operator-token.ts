import type { Scope, TokenRecord } from './tokens.ts';

/**
 * The authority of whoever runs the CLI against the server's own storage (as for `key add`):
 * push anywhere under the image domain, and nothing else, so a deleted version or any other
 * rule a push token must satisfy still applies. It is never stored, so no request can present
 * it; its id ("cli:import") marks in each version record what was imported rather than pushed.
 */
export function operatorToken(domain: string, id: string, now = new Date()): TokenRecord {
  return { ...systemToken(domain, `cli:${id}`, ['push'], now), name: `acihost ${id}` };
}

/**
 * The authority of a job acihost runs by itself over the whole image domain (retention's
 * deletes): never stored either, and its id names the job as the actor in the audit log.
 */
export function systemToken(domain: string, id: string, scopes: Scope[], now = new Date()): TokenRecord {
  return {
    id,
    name: id,
    prefixes: [domain],
    scopes,
    secretSha256: '0'.repeat(64),
    createdAt: now.toISOString(),
    expiresAt: null,
  };
}
