import type { FastifyRequest, FastifySchemaValidationError } from 'fastify';
import { isAcIdentifier } from '../../names.ts';
import { invalid } from '../../errors.ts';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

export interface ListQuery {
  prefix: string;
  after: string | undefined;
  limit: number;
}

/** The query once the route's schema has checked it: `limit` a number in range, the others text. */
export interface CheckedListQuery {
  prefix?: string;
  cursor?: string;
  limit: number;
}

/**
 * `?prefix=P&cursor=C&limit=N` as the route validates it. Shapes are checked
 * here (and documented from here); whether a cursor or prefix names something
 * is checked by parseListQuery.
 */
export const listQuerySchema = {
  type: 'object',
  properties: {
    prefix: {
      type: 'string',
      description: 'only this name and the names below it (segment-aligned); default: the image domain',
      examples: ['aci.example.com/team'],
    },
    cursor: { type: 'string', pattern: '^[A-Za-z0-9_-]*$', description: 'nextCursor from the previous page, unchanged' },
    limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT, description: 'names per page' },
  },
} as const;

const LIST_KEYS = Object.keys(listQuerySchema.properties);

const badLimit = () => invalid('LIMIT_INVALID', `limit must be a whole number from 1 to ${MAX_LIMIT}`);
const badCursor = () =>
  invalid('CURSOR_INVALID', 'the cursor is not one this server made; pass nextCursor from the previous page unchanged');

/**
 * A preValidation hook: a parameter given twice is refused as such, before the
 * schema would report it as a wrong type. A callback, not async: no promise per listing.
 */
export function refuseRepeatedListKeys(request: FastifyRequest, _reply: unknown, done: (err?: Error) => void): void {
  const q = request.query as Record<string, unknown>;
  for (const key of LIST_KEYS) if (Array.isArray(q[key])) return done(invalid('QUERY_INVALID', `give ${key} at most once`));
  done();
}

/** The schema's refusals with the codes the API documents, named after the failing parameter. */
export const listQueryErrors = (errors: FastifySchemaValidationError[]): Error => {
  const field = errors[0]?.instancePath.slice(1);
  if (field === 'limit') return badLimit();
  if (field === 'cursor') return badCursor();
  return invalid('QUERY_INVALID', `the query is not valid: ${errors[0]?.message ?? 'unreadable'}`);
};

/** The cursor is the last name of the previous page, opaque to clients (base64url). */
export const encodeCursor = (name: string): string => Buffer.from(name).toString('base64url');

function decodeCursor(cursor: string): string {
  const name = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!isAcIdentifier(name)) throw badCursor();
  return name;
}

/** `?prefix=`: an image name prefix, the image domain when absent. */
export function parsePrefix(text: string | undefined, domain: string): string {
  if (text === undefined || text === '') return domain;
  const prefix = text.replace(/\/+$/, '');
  if (!isAcIdentifier(prefix))
    throw invalid('PREFIX_INVALID', `prefix ${JSON.stringify(text.slice(0, 200))} is not an image name prefix such as ${domain}/team`);
  return prefix;
}

/** What a checked query asks for; bad values are 422s: 400 is kept for malformed requests and /-/push (docs/http-api.md#errors). */
export function parseListQuery(q: CheckedListQuery, domain: string): ListQuery {
  return { prefix: parsePrefix(q.prefix, domain), after: q.cursor ? decodeCursor(q.cursor) : undefined, limit: q.limit };
}
