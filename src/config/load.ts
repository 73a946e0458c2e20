import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { closest, ENV_SETTINGS, settingAt } from './env.ts';
import { configSchema, type Config } from './schema.ts';

/** Thrown when configuration is unusable; `problems` lists each one with its path. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

// Resolved against this module so it works from src/ (tests) and dist/ (built) alike.
const DEFAULTS_URL = new URL('../../config/default.json', import.meta.url);

type Json = Record<string, unknown>;

function readJson(path: string | URL, label: string): Json {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError([`${label}: cannot read file (${(e as NodeJS.ErrnoException).code ?? e})`]);
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value as Json;
  } catch (e) {
    throw new ConfigError([`${label}: not a JSON object (${(e as Error).message})`]);
  }
}

function overlay(base: Json, top: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(top)) {
    const b = out[k];
    const bothObjects = [b, v].every((x) => typeof x === 'object' && x !== null && !Array.isArray(x));
    out[k] = bothObjects ? overlay(b as Json, v as Json) : v;
  }
  return out;
}

function setPath(target: Json, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Json;
  }
  node[path[path.length - 1]!] = value;
}

/** Where a value came from, for problem reports. */
type Origin = { variable: string; text: string } | { file: string };

const MAX_SHOWN = 100;

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…` : text;
}

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  let node = root;
  for (const k of path) node = typeof node === 'object' && node !== null ? (node as Record<PropertyKey, unknown>)[k] : undefined;
  return node;
}

/** Every path a file sets (arrays count as one value), so a problem can name the file. */
function recordFile(origins: Map<string, Origin>, value: Json, file: string, prefix: string[] = []): void {
  for (const [k, v] of Object.entries(value)) {
    const path = [...prefix, k];
    origins.set(path.join('.'), { file });
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) recordFile(origins, v as Json, file, path);
  }
}

/**
 * "(from ACIHOST_PORT=\"abc\")", "(from c.json: 80000)", "(default: 8443)"; an unknown key
 * only names its file; a whole section (tls.cert with tls.key) names nothing.
 */
function originOf(origins: Map<string, Origin>, raw: Json, path: PropertyKey[]): string {
  const key = path.join('.');
  const setting = ENV_SETTINGS.find((s) => key === s.path || key.startsWith(`${s.path}.`));
  for (let n = path.length; n > 0; n--) {
    const origin = origins.get(path.slice(0, n).join('.'));
    if (!origin) continue;
    if ('variable' in origin) return ` (from ${origin.variable}${setting?.secret ? ', value hidden' : `=${shown(origin.text)}`})`;
    if (!setting) return n === path.length ? ` (in ${origin.file})` : '';
    return ` (from ${origin.file}${setting.secret ? '' : `: ${shown(valueAt(raw, path))}`})`;
  }
  return setting && !setting.secret ? ` (default: ${shown(valueAt(raw, path))})` : '';
}

function describeIssue(issue: z.core.$ZodIssue, origins: Map<string, Origin>, raw: Json): string[] {
  const at = (path: PropertyKey[]) => (path.length ? path.join('.') : '(top level)');
  if (issue.code === 'unrecognized_keys') {
    const section = issue.path.join('.');
    const siblings = ENV_SETTINGS.map((s) => s.path as string).filter((p) => p.startsWith(section) && p !== section);
    return issue.keys.map((key) => {
      const path = [...issue.path, key];
      const near = closest(path.join('.'), siblings);
      return `${at(path)}: unknown key${near ? `; did you mean ${near}?` : ''}${originOf(origins, raw, path)}`;
    });
  }
  const setting = settingAt(issue.path.join('.'));
  // zod's "expected number, received string" or "Too big" names no range; the setting's type does.
  const generic = ['invalid_type', 'too_small', 'too_big', 'invalid_value'].includes(issue.code);
  const message = generic && setting ? `expected ${setting.type}` : issue.message;
  return [`${at(issue.path)}: ${message}${originOf(origins, raw, issue.path)}`];
}

/**
 * Defaults, then the optional file, then environment variables; validated strictly.
 * Each problem names the setting, what it expects and where its value came from.
 */
export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv } = {}): Config {
  const env = opts.env ?? process.env;
  const origins = new Map<string, Origin>();
  const problems: string[] = [];
  let raw = readJson(DEFAULTS_URL, 'config/default.json');
  if (opts.file) {
    const file = readJson(opts.file, opts.file);
    recordFile(origins, file, opts.file);
    raw = overlay(raw, file);
  }
  for (const setting of ENV_SETTINGS) {
    const text = env[setting.variable];
    if (text === undefined || text === '') continue;
    const read = setting.read(text);
    const origin = { variable: setting.variable, text };
    if ('expected' in read) {
      problems.push(
        `${setting.path}: expected ${read.expected}${originOf(new Map([[setting.path, origin]]), raw, setting.path.split('.'))}`,
      );
      continue;
    }
    setPath(raw, setting.path.split('.'), read.value);
    origins.set(setting.path, origin);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) problems.push(...parsed.error.issues.flatMap((i) => describeIssue(i, origins, raw)));
  if (problems.length > 0) throw new ConfigError(problems);
  return parsed.data!;
}

/** The image domain: the public URL's host name, which every pushed name must start with. */
export const imageDomain = (config: Config): string => new URL(config.server.publicUrl).hostname;

/** The origin clients use, without a trailing slash. */
export const publicOrigin = (config: Config): string => new URL(config.server.publicUrl).origin;
