/**
 * Every setting from the environment: the names, how text becomes a value, variables
 * nothing reads, and problem reports that name the variable or file and the value.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ENV_SETTINGS, unknownVariables } from '../../src/config/env.ts';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import { OTHER_VARIABLES } from '../../src/config/settings.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const DEFAULTS = JSON.parse(await readFile(join(ROOT, 'config/default.json'), 'utf8')) as unknown;

const problems = (env: Record<string, string>, file?: string): string[] => {
  try {
    loadConfig({ env, file });
  } catch (e) {
    assert.ok(e instanceof ConfigError, `not a ConfigError: ${(e as Error)?.stack}`);
    return e.problems;
  }
  assert.fail('the configuration was accepted');
};

const at = (config: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((node, k) => (node as Record<string, unknown>)[k], config);

function nested(path: string, value: unknown): Record<string, unknown> {
  return path.split('.').reduceRight<unknown>((inner, k) => ({ [k]: inner }), value) as Record<string, unknown>;
}

async function jsonFile(content: unknown): Promise<string> {
  const file = join(await tempDir('acihost-env-'), 'c.json');
  await writeFile(file, JSON.stringify(content));
  return file;
}

const ACME = { ACIHOST_PUBLIC_URL: 'https://aci.example.com', ACIHOST_ACME_AGREE_TOS: 'true', ACIHOST_ACME_DIRECTORY: 'letsencrypt' };

/** Each setting: the variable's text, the value it must give (never the default), what else it needs. */
const SAMPLES: Record<string, [string, unknown, Record<string, string>?]> = {
  'server.host': ['127.0.0.1', '127.0.0.1'],
  'server.port': ['9443', 9443],
  'server.publicUrl': ['https://aci.example.com', 'https://aci.example.com'],
  'server.requestTimeoutSeconds': ['120', 120],
  'server.headersTimeoutSeconds': ['20', 20],
  'server.keepAliveTimeoutSeconds': ['10', 10],
  'server.idleTimeoutSeconds': ['90', 90],
  'server.minTransferBytesPerSecond': ['0', 0],
  'server.httpPort': ['off', 'off'],
  'server.trustProxy': ['10.0.0.0/8, 127.0.0.1', ['10.0.0.0/8', '127.0.0.1']],
  'server.shutdownDelaySeconds': ['1.5', 1.5],
  'server.shutdownGraceSeconds': ['0', 0],
  'server.workers': ['4', 4],
  'tls.enabled': ['false', false],
  'tls.cert': ['/c.pem', '/c.pem', { ACIHOST_TLS_KEY: '/k.pem' }],
  'tls.key': ['/k.pem', '/k.pem', { ACIHOST_TLS_CERT: '/c.pem' }],
  'tls.devCertsDir': ['/var/lib/acihost/certs', '/var/lib/acihost/certs'],
  'tls.watchIntervalMs': ['250', 250],
  'tls.acme.directoryUrl': [
    'letsencrypt-staging',
    'letsencrypt-staging',
    { ACIHOST_PUBLIC_URL: 'https://aci.example.com', ACIHOST_ACME_AGREE_TOS: 'true' },
  ],
  'tls.acme.email': ['ops@example.com', 'ops@example.com'],
  'tls.acme.agreeTos': ['true', true],
  'tls.acme.caFile': ['/etc/ca.pem', '/etc/ca.pem'],
  'tls.acme.checkIntervalSeconds': ['60', 60],
  'tls.acme.pollIntervalMs': ['50', 50],
  'storage.backend': ['s3', 's3', { ACIHOST_S3_BUCKET: 'images' }],
  'storage.dir': ['/srv/aci', '/srv/aci'],
  'storage.sweepGraceSeconds': ['60', 60],
  'storage.pollIntervalMs': ['500', 500],
  'storage.indexSnapshotNames': ['0', 0],
  'storage.s3.endpoint': ['https://s3.example.com', 'https://s3.example.com'],
  'storage.s3.region': ['eu-west-1', 'eu-west-1'],
  'storage.s3.bucket': ['images', 'images'],
  'storage.s3.prefix': ['aci/', 'aci/'],
  'storage.s3.forcePathStyle': ['true', true],
  'storage.s3.caFile': ['/etc/s3-ca.pem', '/etc/s3-ca.pem'],
  'storage.s3.accessKeyId': ['AKIAEXAMPLE', 'AKIAEXAMPLE'],
  'storage.s3.secretAccessKey': ['wJalrEXAMPLE', 'wJalrEXAMPLE'],
  'storage.s3.timeoutMs': ['3000', 3000],
  'storage.s3.partSizeBytes': ['8388608', 8388608],
  'limits.maxCompressedBytes': ['1048576', 1048576],
  'limits.maxUncompressedBytes': ['2097152', 2097152],
  'limits.maxEntries': ['500', 500],
  'limits.maxManifestBytes': ['2048', 2048],
  'limits.maxPathBytes': ['1024', 1024],
  'limits.maxUploadSessionsPerToken': ['4', 4],
  'limits.maxConcurrentUploadsPerToken': ['2', 2],
  'limits.answerCacheBytes': ['0', 0],
  'tokens.defaultExpiry': ['30d', '30d'],
  'acpush.uploadExpirySeconds': ['600', 600],
  'access.privatePrefixes': ['localhost/a,localhost/b', ['localhost/a', 'localhost/b']],
  'verify.intervalSeconds': ['3600', 3600],
  'retention.intervalSeconds': ['86400', 86400],
  'audit.keepDays': ['90', 90],
  'log.level': ['debug', 'debug'],
  'metrics.requireToken': ['true', true],
  'rateLimit.failedAuthAttempts': ['5', 5],
  'rateLimit.windowSeconds': ['30', 30],
  'webhooks.retryForSeconds': ['3600', 3600],
  'webhooks.timeoutSeconds': ['5', 5],
  'webhooks.leaseSeconds': ['30', 30],
  'webhooks.subscriptions': [
    '[{"name":"ci","prefix":"localhost/team","url":"https://ci.example.com/h","secretEnv":"WEBHOOK_CI_SECRET"}]',
    [{ name: 'ci', prefix: 'localhost/team', url: 'https://ci.example.com/h', secretEnv: 'WEBHOOK_CI_SECRET' }],
  ],
  'mirrors.refreshSeconds': ['60', 60],
  'mirrors.timeoutSeconds': ['10', 10],
  'mirrors.waitSeconds': ['120', 120],
  'mirrors.scratchDir': ['/var/tmp/acihost', '/var/tmp/acihost'],
  'mirrors.gzipLevel': ['9', 9],
  'mirrors.maxConversions': ['2', 2],
  'mirrors.upstreams': [
    '[{"source":"docker.example.com/library/*","prefix":"localhost/mirror/library"}]',
    [{ source: 'docker.example.com/library/*', prefix: 'localhost/mirror/library' }],
  ],
};

/** How a value would be written back as a variable. */
const asText = (value: unknown): string => {
  if (!Array.isArray(value)) return String(value);
  // A list of objects is JSON in its variable; other lists are comma-separated.
  return value.some((v) => typeof v === 'object') ? JSON.stringify(value) : value.join(',');
};

describe('configuration: environment variables', () => {
  it('has a sample here for every setting of the schema', () => {
    assert.deepEqual(Object.keys(SAMPLES).sort(), ENV_SETTINGS.map((s) => s.path).sort());
  });

  for (const setting of ENV_SETTINGS) {
    it(`sets ${setting.path} from ${setting.variable}, as the file would, and round-trips`, async () => {
      const [text, expected, needs = {}] = SAMPLES[setting.path]!;
      assert.notDeepEqual(at(DEFAULTS, setting.path), expected, 'the sample must differ from the default');
      const fromEnv = loadConfig({ env: { ...needs, [setting.variable]: text } });
      assert.deepEqual(at(fromEnv, setting.path), expected);
      const again = loadConfig({ env: { ...needs, [setting.variable]: asText(at(fromEnv, setting.path)) } });
      assert.deepEqual(at(again, setting.path), expected);
      const fromFile = loadConfig({ env: needs, file: await jsonFile(nested(setting.path, expected)) });
      assert.deepEqual(at(fromFile, setting.path), expected);
    });
  }

  it('keeps the names deployments already use', () => {
    const names: Record<string, string> = {
      ACIHOST_HOST: 'server.host',
      ACIHOST_PORT: 'server.port',
      ACIHOST_PUBLIC_URL: 'server.publicUrl',
      ACIHOST_HTTP_PORT: 'server.httpPort',
      ACIHOST_TRUST_PROXY: 'server.trustProxy',
      ACIHOST_TLS: 'tls.enabled',
      ACIHOST_TLS_CERT: 'tls.cert',
      ACIHOST_TLS_KEY: 'tls.key',
      ACIHOST_ACME_DIRECTORY: 'tls.acme.directoryUrl',
      ACIHOST_ACME_EMAIL: 'tls.acme.email',
      ACIHOST_ACME_AGREE_TOS: 'tls.acme.agreeTos',
      ACIHOST_ACME_CA_FILE: 'tls.acme.caFile',
      ACIHOST_STORAGE_BACKEND: 'storage.backend',
      ACIHOST_STORAGE_DIR: 'storage.dir',
      ACIHOST_S3_ENDPOINT: 'storage.s3.endpoint',
      ACIHOST_S3_REGION: 'storage.s3.region',
      ACIHOST_S3_BUCKET: 'storage.s3.bucket',
      ACIHOST_S3_PREFIX: 'storage.s3.prefix',
      ACIHOST_S3_FORCE_PATH_STYLE: 'storage.s3.forcePathStyle',
      ACIHOST_S3_CA_FILE: 'storage.s3.caFile',
      AWS_ACCESS_KEY_ID: 'storage.s3.accessKeyId',
      AWS_SECRET_ACCESS_KEY: 'storage.s3.secretAccessKey',
      ACIHOST_LOG_LEVEL: 'log.level',
      ACIHOST_MAX_UPLOAD_SESSIONS_PER_TOKEN: 'limits.maxUploadSessionsPerToken',
      ACIHOST_MAX_CONCURRENT_UPLOADS_PER_TOKEN: 'limits.maxConcurrentUploadsPerToken',
      ACIHOST_ANSWER_CACHE_BYTES: 'limits.answerCacheBytes',
      ACIHOST_PRIVATE_PREFIXES: 'access.privatePrefixes',
    };
    for (const [variable, path] of Object.entries(names)) {
      assert.equal(ENV_SETTINGS.find((s) => s.variable === variable)?.path, path, variable);
    }
    assert.equal(ENV_SETTINGS.find((s) => s.path === 'rateLimit.windowSeconds')?.variable, 'ACIHOST_RATE_LIMIT_WINDOW_SECONDS');
    assert.equal(ENV_SETTINGS.find((s) => s.path === 'storage.s3.timeoutMs')?.variable, 'ACIHOST_S3_TIMEOUT_MS');
  });

  it('reads null where the setting allows it, over a value from the file, and on/off as booleans', async () => {
    const file = await jsonFile({ server: { httpPort: 8080 }, tls: { acme: { email: 'ops@example.com' } } });
    const c = loadConfig({ file, env: { ACIHOST_HTTP_PORT: 'null', ACIHOST_ACME_EMAIL: 'null', ACIHOST_METRICS_REQUIRE_TOKEN: 'on' } });
    assert.equal(c.server.httpPort, null);
    assert.equal(c.tls.acme.email, null);
    assert.equal(c.metrics.requireToken, true);
    assert.equal(loadConfig({ env: { ACIHOST_HTTP_PORT: '8080' } }).server.httpPort, 8080);
    assert.equal(loadConfig({ env: { ACIHOST_TLS: 'off' } }).tls.enabled, false);
  });

  it('names the variable, its value and what is expected when the text is not of the type', () => {
    assert.deepEqual(problems({ ACIHOST_PORT: 'abc' }), ['server.port: expected integer from 0 to 65535 (from ACIHOST_PORT="abc")']);
    assert.deepEqual(problems({ ACIHOST_PORT: '70000' }), ['server.port: expected integer from 0 to 65535 (from ACIHOST_PORT="70000")']);
    assert.deepEqual(problems({ ACIHOST_METRICS_REQUIRE_TOKEN: 'yes' }), [
      'metrics.requireToken: expected true or false (from ACIHOST_METRICS_REQUIRE_TOKEN="yes")',
    ]);
    assert.deepEqual(problems({ ACIHOST_LOG_LEVEL: 'loud' }), [
      'log.level: expected one of fatal, error, warn, info, debug, trace, silent (from ACIHOST_LOG_LEVEL="loud")',
    ]);
    assert.deepEqual(problems({ ACIHOST_TRUST_PROXY: '10.0.0.1,proxy' }), [
      'server.trustProxy.1: must be an IP address or CIDR block such as 10.0.0.0/8 (from ACIHOST_TRUST_PROXY="10.0.0.1,proxy")',
    ]);
  });

  it('names the file, the key and its value, and suggests the key meant by an unknown one', async () => {
    const file = await jsonFile({ server: { port: 'x', prot: 1 }, rateLimit: { windowSeconds: 0 } });
    assert.deepEqual(problems({}, file), [
      `server.port: expected integer from 0 to 65535 (from ${file}: "x")`,
      `server.prot: unknown key; did you mean server.port? (in ${file})`,
      `rateLimit.windowSeconds: expected integer ≥ 1 (from ${file}: 0)`,
    ]);
  });

  it('never repeats a secret in a problem', async () => {
    const file = await jsonFile({ storage: { s3: { secretAccessKey: 12345678 } } });
    const [problem, ...rest] = problems({}, file);
    assert.equal(rest.length, 0);
    assert.match(problem!, new RegExp(`^storage\\.s3\\.secretAccessKey: .*${file}`));
    assert.doesNotMatch(problem!, /12345678/);
  });

  it('reports a public URL without https:// in one line, even where other checks read it', () => {
    const expected =
      'server.publicUrl: must start with https://, such as https://aci.example.com (from ACIHOST_PUBLIC_URL="aci.example.com")';
    assert.deepEqual(problems({ ACIHOST_PUBLIC_URL: 'aci.example.com' }), [expected]);
    // The image-domain and ACME checks parse the URL too; they must not throw over it.
    assert.deepEqual(problems({ ...ACME, ACIHOST_PUBLIC_URL: 'aci.example.com', ACIHOST_PRIVATE_PREFIXES: 'aci.example.com/x' }), [
      expected,
    ]);
    assert.match(
      problems({ ACIHOST_PUBLIC_URL: 'http://aci.example.com' })[0]!,
      /^server\.publicUrl: must start with https:\/\/: .*"http:\/\/aci\.example\.com"/,
    );
  });

  it('flags ACIHOST_ variables nothing reads, naming the closest real one', () => {
    assert.deepEqual(unknownVariables({ ACIHOST_PORTT: '1' }), [
      'ACIHOST_PORTT: not a variable acihost reads; did you mean ACIHOST_PORT? (every variable: docs/configuration.md)',
    ]);
    assert.match(unknownVariables({ ACIHOST_SERVER_PORT: '1' })[0]!, /did you mean ACIHOST_PORT\?/);
    assert.match(unknownVariables({ ACIHOST_RATELIMIT_WINDOW: '1' })[0]!, /did you mean ACIHOST_RATE_LIMIT_WINDOW_SECONDS\?/);
    // Nothing is near enough to name: no guess.
    assert.equal(
      unknownVariables({ ACIHOST_FAVOURITE_COLOUR: 'blue' })[0],
      'ACIHOST_FAVOURITE_COLOUR: not a variable acihost reads; every variable is in docs/configuration.md',
    );
    const everyKnown = Object.fromEntries([...ENV_SETTINGS.map((s) => s.variable), ...Object.keys(OTHER_VARIABLES)].map((n) => [n, 'x']));
    assert.deepEqual(unknownVariables({ ...everyKnown, AWS_REGION: 'x', HOME: '/root' }), []);
  });

  it('knows every ACIHOST_ variable that acihost, its deployment files and scripts read', async () => {
    const known = new Set([...ENV_SETTINGS.map((s) => s.variable), ...Object.keys(OTHER_VARIABLES)]);
    const files: string[] = ['Dockerfile'];
    for (const dir of ['src', 'soak', 'bench', 'deploy', 'scripts', 'test/helpers']) {
      for (const entry of await readdir(join(ROOT, dir), { recursive: true, withFileTypes: true })) {
        // src/config names variables to explain the rules, not to read them.
        const file = join(entry.parentPath, entry.name).slice(ROOT.length);
        if (entry.isFile() && !file.startsWith('src/config/')) files.push(file);
      }
    }
    for (const file of files) {
      const text = await readFile(join(ROOT, file), 'utf8');
      for (const [name] of text.matchAll(/\bACIHOST_[A-Z0-9]+(?:_[A-Z0-9]+)*\b/g)) {
        assert.ok(known.has(name), `${file} reads ${name}: a setting, or add it to OTHER_VARIABLES in src/config/settings.ts`);
      }
    }
  });
});
