/**
 * The JSON of the token API: the body of `POST /-/api/tokens`, read strictly here
 * (no field ignored, nothing coerced: a misspelt `expires` must not quietly make a
 * token that lives a year), and the schemas that describe it and the answers.
 */
import { invalid } from '../../errors.ts';
import { expiryFromText, SCOPES, type Scope } from '../../registry/access/tokens.ts';
import type { TokenRequest } from '../../registry/access/token-admin.ts';

const ISO_TIME = { type: 'string', format: 'date-time' } as const;
const NULLABLE_TIME = { type: ['string', 'null'], format: 'date-time' } as const;

/** A token as listed: never its secret, nor the secret's hash. */
export const tokenProperties = {
  id: { type: 'string', pattern: '^[0-9a-f]{20}$', description: 'public; the part of the token between acih_ and the next _' },
  name: { type: 'string', description: 'a label' },
  prefixes: { type: 'array', items: { type: 'string' }, examples: [['aci.example.com/team']] },
  scopes: { type: 'array', items: { type: 'string', enum: [...SCOPES] } },
  createdAt: ISO_TIME,
  createdBy: {
    type: ['string', 'null'],
    description: 'the id of the admin token that made it, `cli:USER` for the command line; null when not recorded',
  },
  expiresAt: { ...NULLABLE_TIME, description: 'null: never' },
  lastUsedAt: { ...NULLABLE_TIME, description: 'to the minute; null when never used (or not since this was recorded)' },
  expired: { type: 'boolean' },
  expiringSoon: { type: 'boolean', description: 'expires within 14 days, and was made to last longer than that' },
} as const;

export const tokenRequired = Object.keys(tokenProperties);

const FIELDS = ['prefix', 'prefixes', 'scopes', 'name', 'expires'];

/** What `POST /-/api/tokens` reads; documentation only: parseTokenRequest checks it. */
export const tokenRequestSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    prefix: {
      type: 'string',
      description: 'the one prefix the token acts under (or give prefixes)',
      examples: ['aci.example.com/team/app'],
    },
    prefixes: { type: 'array', minItems: 1, items: { type: 'string' }, description: 'several prefixes, instead of prefix' },
    scopes: { type: 'array', minItems: 1, items: { type: 'string', enum: [...SCOPES] }, description: 'default ["push"]' },
    name: { type: 'string', maxLength: 128, description: 'a label; default ""' },
    expires: {
      type: ['string', 'null'],
      pattern: '^(\\d{1,6}[smhdwy]|never)$',
      description:
        'a duration such as 90d or 12h; null or "never" for no expiry; default tokens.defaultExpiry, at most the admin token\'s own',
      examples: ['90d'],
    },
  },
} as const;

const bad = (message: string) => invalid('TOKEN_REQUEST_INVALID', message);
const EXAMPLE = 'such as {"prefix":"HOST/team","scopes":["push"],"expires":"90d"}';

const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string');

function prefixesOf(body: Record<string, unknown>): string[] {
  const { prefix, prefixes } = body;
  if (prefix !== undefined && prefixes !== undefined) throw bad('give prefix or prefixes, not both');
  if (typeof prefix === 'string') return [prefix];
  if (isStringArray(prefixes)) return prefixes;
  throw bad(`a token needs prefix (a string) or prefixes (a non-empty array of strings), ${EXAMPLE}`);
}

function scopesOf(scopes: unknown): Scope[] {
  if (scopes === undefined) return ['push'];
  if (!isStringArray(scopes)) throw bad('scopes must be a non-empty array of strings such as ["push","pull"]');
  for (const s of scopes) {
    if (!(SCOPES as readonly string[]).includes(s)) {
      throw invalid('TOKEN_SCOPE_INVALID', `unknown scope ${JSON.stringify(s.slice(0, 40))}; use ${SCOPES.join(', ')}`);
    }
  }
  return scopes as Scope[];
}

function expiryOf(expires: unknown): number | null | undefined {
  if (expires === undefined || expires === null) return expires;
  const seconds = typeof expires === 'string' ? expiryFromText(expires) : undefined;
  if (seconds === undefined) {
    throw invalid('TOKEN_EXPIRY_INVALID', 'expires must be a duration such as "90d", "12h" or "1y", or null (or "never") for no expiry');
  }
  return seconds;
}

/** The body of `POST /-/api/tokens` as a request to the token service; refusals name the field. */
export function parseTokenRequest(body: unknown): TokenRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw bad(`send a JSON object ${EXAMPLE}, with Content-Type: application/json`);
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).find((k) => !FIELDS.includes(k));
  if (unknown !== undefined) throw bad(`unknown field ${JSON.stringify(unknown.slice(0, 40))}; the fields are ${FIELDS.join(', ')}`);
  if (fields.name !== undefined && typeof fields.name !== 'string') throw bad('name must be a string');
  return {
    prefixes: prefixesOf(fields),
    scopes: scopesOf(fields.scopes),
    name: (fields.name as string | undefined) ?? '',
    expiresInSeconds: expiryOf(fields.expires),
  };
}
