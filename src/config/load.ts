import { readFileSync } from 'node:fs';
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

/** Environment variable -> [config path, how to read the text]. */
const ENV: Record<string, [string[], (v: string) => unknown]> = {
  ACIHOST_PORT: [['server', 'port'], (v) => (/^\d+$/.test(v) ? Number(v) : v)],
  ACIHOST_HOST: [['server', 'host'], String],
  ACIHOST_PUBLIC_URL: [['server', 'publicUrl'], String],
  ACIHOST_STORAGE_DIR: [['storage', 'dir'], String],
  ACIHOST_STORAGE_BACKEND: [['storage', 'backend'], String],
  ACIHOST_S3_ENDPOINT: [['storage', 's3', 'endpoint'], String],
  ACIHOST_S3_REGION: [['storage', 's3', 'region'], String],
  ACIHOST_S3_BUCKET: [['storage', 's3', 'bucket'], String],
  ACIHOST_S3_PREFIX: [['storage', 's3', 'prefix'], String],
  ACIHOST_S3_FORCE_PATH_STYLE: [['storage', 's3', 'forcePathStyle'], (v) => (v === 'true' ? true : v === 'false' ? false : v)],
  ACIHOST_S3_CA_FILE: [['storage', 's3', 'caFile'], String],
  // The standard AWS variables, so credentials never need to sit in a file.
  AWS_ACCESS_KEY_ID: [['storage', 's3', 'accessKeyId'], String],
  AWS_SECRET_ACCESS_KEY: [['storage', 's3', 'secretAccessKey'], String],
  ACIHOST_TLS_CERT: [['tls', 'cert'], String],
  ACIHOST_TLS_KEY: [['tls', 'key'], String],
  ACIHOST_TLS: [['tls', 'enabled'], (v) => (v === 'off' ? false : v === 'on' ? true : v)],
  ACIHOST_HTTP_PORT: [['server', 'httpPort'], (v) => (/^\d+$/.test(v) ? Number(v) : v)],
  ACIHOST_TRUST_PROXY: [['server', 'trustProxy'], (v) => v.split(',').map((p) => p.trim()).filter(Boolean)],
  ACIHOST_ACME_DIRECTORY: [['tls', 'acme', 'directoryUrl'], String],
  ACIHOST_ACME_EMAIL: [['tls', 'acme', 'email'], String],
  ACIHOST_ACME_AGREE_TOS: [['tls', 'acme', 'agreeTos'], (v) => (v === 'true' ? true : v === 'false' ? false : v)],
  ACIHOST_ACME_CA_FILE: [['tls', 'acme', 'caFile'], String],
  ACIHOST_LOG_LEVEL: [['log', 'level'], String],
  ACIHOST_MAX_UPLOAD_SESSIONS_PER_TOKEN: [['limits', 'maxUploadSessionsPerToken'], (v) => (/^\d+$/.test(v) ? Number(v) : v)],
  ACIHOST_MAX_CONCURRENT_UPLOADS_PER_TOKEN: [['limits', 'maxConcurrentUploadsPerToken'], (v) => (/^\d+$/.test(v) ? Number(v) : v)],
  ACIHOST_ANSWER_CACHE_BYTES: [['limits', 'answerCacheBytes'], (v) => (/^\d+$/.test(v) ? Number(v) : v)],
  ACIHOST_PRIVATE_PREFIXES: [
    ['access', 'privatePrefixes'],
    (v) =>
      v
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean),
  ],
};

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

/** Defaults, then the optional file, then environment variables; validated strictly. */
export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv } = {}): Config {
  const env = opts.env ?? process.env;
  let raw = readJson(DEFAULTS_URL, 'config/default.json');
  if (opts.file) raw = overlay(raw, readJson(opts.file, opts.file));
  for (const [name, [path, read]] of Object.entries(ENV)) {
    const v = env[name];
    if (v !== undefined && v !== '') setPath(raw, path, read(v));
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => {
        const where = i.path.length ? i.path.join('.') : '(top level)';
        return `${where}: ${i.message}`;
      }),
    );
  }
  return parsed.data;
}

/** The image domain: the public URL's host name, which every pushed name must start with. */
export const imageDomain = (config: Config): string => new URL(config.server.publicUrl).hostname;

/** The origin clients use, without a trailing slash. */
export const publicOrigin = (config: Config): string => new URL(config.server.publicUrl).origin;
