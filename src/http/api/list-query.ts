import { isAcIdentifier } from '../../aci/name.ts';
import { invalid } from '../../errors.ts';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

export interface ListQuery {
  prefix: string;
  after: string | undefined;
  limit: number;
}

/** The cursor is the last name of the previous page, opaque to clients (base64url). */
export const encodeCursor = (name: string): string => Buffer.from(name).toString('base64url');

function decodeCursor(cursor: string): string {
  const name = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!isAcIdentifier(name))
    throw invalid('CURSOR_INVALID', 'the cursor is not one this server made; pass nextCursor from the previous page unchanged');
  return name;
}

function parseLimit(text: string | undefined): number {
  if (text === undefined) return DEFAULT_LIMIT;
  const n = /^\d{1,7}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= MAX_LIMIT)) throw invalid('LIMIT_INVALID', `limit must be a whole number from 1 to ${MAX_LIMIT}`);
  return n;
}

function parsePrefix(text: string | undefined, domain: string): string {
  if (text === undefined || text === '') return domain;
  const prefix = text.replace(/\/+$/, '');
  if (!isAcIdentifier(prefix))
    throw invalid('PREFIX_INVALID', `prefix ${JSON.stringify(text.slice(0, 200))} is not an image name prefix such as ${domain}/team`);
  return prefix;
}

/** `?prefix=P&cursor=C&limit=N`; bad values are 422s (a 400 is for /-/push only, contracts.md). */
export function parseListQuery(q: Record<string, string | string[] | undefined>, domain: string): ListQuery {
  const one = (key: string): string | undefined => {
    const v = q[key];
    if (Array.isArray(v)) throw invalid('QUERY_INVALID', `give ${key} at most once`);
    return v;
  };
  const cursor = one('cursor');
  return { prefix: parsePrefix(one('prefix'), domain), after: cursor ? decodeCursor(cursor) : undefined, limit: parseLimit(one('limit')) };
}
