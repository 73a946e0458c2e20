/**
 * Every setting of the schema with its environment variable, what values it takes and
 * how a variable's text becomes one. Walking the schema (rather than listing variables
 * by hand) is what makes every setting settable from the environment and keeps the
 * loader, `check-config` and docs/configuration.md in agreement.
 */
import type { z } from 'zod';
import { configSchema } from './schema.ts';
import { OTHER_VARIABLES, SECTION_PREFIXES, SETTINGS, type SettingNotes, type SettingPath } from './settings.ts';

export interface Setting extends SettingNotes {
  path: SettingPath;
  variable: string;
  /** What values it takes, e.g. "integer from 0 to 65535, or null". */
  type: string;
  /** The variable's text as a value of the setting's type; a string when it is not one. */
  read(text: string): { value: unknown } | { expected: string };
}

// zod keeps the structure in `_zod.def`; only what the schema uses is read here.
interface Def {
  type: string;
  shape?: Record<string, Schema>;
  innerType?: Schema;
  options?: Schema[];
  values?: unknown[];
  element?: Schema;
  entries?: Record<string, string>;
  checks?: { _zod: { def: { check: string; value?: number; inclusive?: boolean; format?: string; minimum?: number } } }[];
}
type Schema = { _zod: { def: Def } };

const def = (s: Schema): Def => s._zod.def;

const upperSnake = (key: string): string => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

/** ACIHOST_ + the section's prefix + the key, e.g. storage.s3.timeoutMs -> ACIHOST_S3_TIMEOUT_MS. */
function derivedVariable(path: string): string {
  const parts = path.split('.');
  const key = parts.pop()!;
  const section = parts.join('.');
  const prefix = SECTION_PREFIXES[section] ?? parts.map((p) => upperSnake(p) + '_').join('');
  return `ACIHOST_${prefix}${upperSnake(key)}`;
}

function describe(s: Schema): string {
  const d = def(s);
  switch (d.type) {
    case 'nullable':
      return `${describe(d.innerType!)}, or null`;
    case 'union':
      return d.options!.map(describe).join(', or ');
    case 'literal':
      return d.values!.map(String).join(', or ');
    case 'enum':
      return `one of ${Object.values(d.entries!).join(', ')}`;
    case 'boolean':
      return 'true or false';
    case 'array':
      return def(d.element!).type === 'object' ? 'list of objects (JSON in the environment)' : 'list (comma-separated in the environment)';
    case 'string': {
      const nonEmpty = d.checks?.some((c) => c._zod.def.check === 'min_length' && (c._zod.def.minimum ?? 0) > 0);
      const url = d.checks?.some((c) => c._zod.def.format === 'url');
      return url ? 'URL' : nonEmpty ? 'non-empty text' : 'text';
    }
    case 'number': {
      let integer = false;
      let min: number | undefined;
      let max: number | undefined;
      for (const { _zod } of d.checks ?? []) {
        const c = _zod.def;
        if (c.check === 'number_format') integer = c.format === 'safeint' || c.format === 'int32';
        if (c.check === 'greater_than') min = c.inclusive ? c.value : c.value! + (integer ? 1 : 0);
        if (c.check === 'less_than') max = c.inclusive ? c.value : c.value! - (integer ? 1 : 0);
      }
      const what = integer ? 'integer' : 'number';
      if (min !== undefined && max !== undefined) return `${what} from ${min} to ${max}`;
      if (min !== undefined) return `${what} ≥ ${min}`;
      return max !== undefined ? `${what} ≤ ${max}` : what;
    }
    default:
      return d.type;
  }
}

type Read = (text: string) => { value: unknown } | undefined;

function parseJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return undefined;
  }
}

/** How text becomes a value of this schema; undefined when it cannot. */
function reader(s: Schema): Read {
  const d = def(s);
  switch (d.type) {
    case 'nullable': {
      const inner = reader(d.innerType!);
      return (t) => (t === 'null' ? { value: null } : inner(t));
    }
    case 'union': {
      const options = d.options!.map(reader);
      return (t) => options.reduce<ReturnType<Read>>((found, r) => found ?? r(t), undefined);
    }
    case 'literal':
      return (t) => (d.values!.some((v) => String(v) === t) ? { value: d.values!.find((v) => String(v) === t) } : undefined);
    case 'number':
      return (t) => (/^-?\d+(\.\d+)?$/.test(t) ? { value: Number(t) } : undefined);
    case 'boolean':
      // on/off too: ACIHOST_TLS has always taken them.
      return (t) => (t === 'true' || t === 'on' ? { value: true } : t === 'false' || t === 'off' ? { value: false } : undefined);
    case 'array':
      // A list of objects has no comma-separated form: its variable holds the JSON array.
      if (def(d.element!).type === 'object') return (t) => parseJson(t);
      return (t) => ({
        value: t
          .split(',')
          .map((p) => p.trim())
          .filter(Boolean),
      });
    default:
      // Strings and enums: the schema itself says what is wrong with the text.
      return (t) => ({ value: t });
  }
}

function walk(s: Schema, path: string[], out: Setting[]): void {
  const d = def(s);
  if (d.type === 'object') {
    for (const [k, v] of Object.entries(d.shape!)) walk(v, [...path, k], out);
    return;
  }
  const key = path.join('.') as SettingPath;
  const notes = SETTINGS[key];
  const type = describe(s);
  const read = reader(s);
  out.push({
    ...notes,
    path: key,
    variable: notes.env ?? derivedVariable(key),
    type,
    read: (text) => read(text) ?? { expected: type },
  });
}

/** Every setting, in schema order. */
export const ENV_SETTINGS: readonly Setting[] = (() => {
  const out: Setting[] = [];
  walk(configSchema as unknown as z.ZodType as unknown as Schema, [], out);
  const seen = new Set<string>();
  for (const s of out) {
    if (seen.has(s.variable)) throw new Error(`two settings read ${s.variable}`);
    seen.add(s.variable);
  }
  return out;
})();

export const settingAt = (path: string): Setting | undefined => ENV_SETTINGS.find((s) => s.path === path);

/** Edit distance (insertions, deletions, substitutions). */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/** The closest of `names` to `word`. */
export function closest(word: string, names: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const n of names) {
    const d = distance(word, n);
    if (d < bestDistance) [best, bestDistance] = [n, d];
  }
  return best;
}

/**
 * ACIHOST_ variables that nothing reads: typos that would silently keep a default.
 * Each problem names the closest real variable; a setting's systematic name (such as
 * ACIHOST_SERVER_PORT) leads to the name it is actually read under (ACIHOST_PORT).
 */
export function unknownVariables(env: NodeJS.ProcessEnv): string[] {
  const known = new Set([...ENV_SETTINGS.map((s) => s.variable), ...Object.keys(OTHER_VARIABLES)]);
  const candidates = new Map<string, string>();
  for (const s of ENV_SETTINGS) {
    candidates.set(`ACIHOST_${s.path.split('.').map(upperSnake).join('_')}`, s.variable);
    candidates.set(s.variable, s.variable);
  }
  return Object.keys(env)
    .filter((name) => name.startsWith('ACIHOST_') && !known.has(name))
    .sort()
    .map((name) => {
      const nearest = closest(name, candidates.keys())!;
      // A suggestion far from what was typed would mislead more than it helps: a few typos
      // away, or the same words with a part left out (ACIHOST_RATELIMIT_WINDOW).
      const bare = (v: string) => v.slice('ACIHOST_'.length).replace(/_/g, '');
      const alike = distance(name, nearest) <= Math.max(2, Math.floor(name.length / 4)) || bare(nearest).startsWith(bare(name));
      const near = alike ? candidates.get(nearest) : undefined;
      const hint = near ? `did you mean ${near}? (every variable: docs/configuration.md)` : 'every variable is in docs/configuration.md';
      return `${name}: not a variable acihost reads; ${hint}`;
    });
}
