/**
 * The `WWW-Authenticate` challenge of a registry's 401 (RFC 7235 §4.1): Bearer with
 * realm, service and scope (the distribution token spec), or Basic.
 */

export type Challenge =
  | { scheme: 'bearer'; realm: string; service?: string; scope?: string }
  | { scheme: 'basic'; realm?: string }
  | { scheme: 'other'; name: string };

// One auth-param: name=token or name="quoted string" (with \-escapes).
const PARAM = /\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*(?:,|$)/y;

/** The first challenge a client here can answer, Bearer before Basic; undefined when there is none at all. */
export function parseWwwAuthenticate(header: string | string[] | undefined): Challenge | undefined {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const challenges = values.flatMap(parseAll);
  return challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic') ?? challenges[0];
}

function parseAll(value: string): Challenge[] {
  const out: Challenge[] = [];
  let rest = value.trim();
  while (rest !== '') {
    const scheme = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*/.exec(rest);
    if (!scheme) break;
    rest = rest.slice(scheme[0].length);
    const params: Record<string, string> = {};
    PARAM.lastIndex = 0;
    let used = 0;
    for (let m = PARAM.exec(rest); m !== null; m = PARAM.exec(rest)) {
      params[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
      used = PARAM.lastIndex;
      if (used >= rest.length) break;
    }
    // What the parameters leave is the next challenge: a scheme name followed by a space, not by '='.
    rest = rest.slice(used).replace(/^[\s,]+/, '');
    out.push(toChallenge(scheme[1]!.toLowerCase(), params));
  }
  return out;
}

function toChallenge(scheme: string, params: Record<string, string>): Challenge {
  if (scheme === 'bearer' && params.realm !== undefined) {
    return {
      scheme: 'bearer',
      realm: params.realm,
      ...(params.service === undefined ? {} : { service: params.service }),
      ...(params.scope === undefined ? {} : { scope: params.scope }),
    };
  }
  if (scheme === 'basic') return { scheme: 'basic', ...(params.realm === undefined ? {} : { realm: params.realm }) };
  return { scheme: 'other', name: scheme };
}
