/**
 * What each setting of the schema means, and the few environment variable names
 * that do not follow the rule in env.ts. Keyed by every leaf of Config, so tsc
 * refuses a setting added to the schema without a line here; the loader, the
 * unknown-variable check and docs/configuration.md are all derived from it.
 */
import type { Config } from './schema.ts';

/** 'server.port', 'tls.acme.email'...: every setting, arrays counting as one. */
export type SettingPath<T = Config, P extends string = ''> = {
  [K in keyof T & string]: T[K] extends readonly unknown[] ? `${P}${K}` : T[K] extends object ? SettingPath<T[K], `${P}${K}.`> : `${P}${K}`;
}[keyof T & string];

export interface SettingNotes {
  /** One line for the reference: what it does, and what special values mean. */
  about: string;
  /** The variable, where it is not ACIHOST_ + section prefix + key (names deployments already use). */
  env?: string;
  /** Never echoed back in a problem report. */
  secret?: true;
}

/**
 * The part of the variable name standing for a section. Keys of server, limits and
 * access are clear on their own (ACIHOST_PORT, ACIHOST_MAX_ENTRIES); ACME and S3
 * settings are known by those names. Any other section: its path in UPPER_SNAKE.
 */
export const SECTION_PREFIXES: Record<string, string> = {
  server: '',
  limits: '',
  access: '',
  'tls.acme': 'ACME_',
  'storage.s3': 'S3_',
};

/**
 * ACIHOST_ variables read outside the configuration: not settings, and not typos.
 * Whatever reads a new one adds it here (test/config/env.test.ts checks the sources).
 */
export const OTHER_VARIABLES: Record<string, string> = {
  ACIHOST_TEST_KILL_AT: 'src/server.ts: fault injection for the crash and worker tests',
  ACIHOST_WORKER_SLOT: 'set by the supervisor in each worker it starts (0 is the one that runs the once-only jobs); not for operators',
  ACIHOST_SIGNING_SECRET:
    'the secret, at least 16 characters, that encrypts the server signing keys made by `acihost key generate` ([Security](security.md#server-signing-keys))',
  ACIHOST_SIGNING_SECRET_FILE: 'a file holding that secret, its trailing newline dropped; set this or ACIHOST_SIGNING_SECRET, not both',
};

export const SETTINGS: Record<SettingPath, SettingNotes> = {
  'server.host': { about: 'address to listen on' },
  'server.port': { about: 'port to listen on' },
  'server.publicUrl': {
    about: 'the https:// origin clients use; its host name is the image domain every pushed name starts with',
  },
  'server.requestTimeoutSeconds': { about: 'longest a whole request may take' },
  'server.headersTimeoutSeconds': { about: 'longest the request headers may take to arrive' },
  'server.keepAliveTimeoutSeconds': { about: 'how long an idle kept-alive connection stays open' },
  'server.idleTimeoutSeconds': {
    about: 'a connection with a request in flight and no bytes moving, or one that never sends a request, is closed after this',
  },
  'server.minTransferBytesPerSecond': {
    about:
      'a request or download moving fewer bytes than this per idle-timeout window is closed; 0 turns the check off. Time the server itself holds a request (its whole body is in and the answer not yet begun, or it is not reading the body while busy decoding what came) does not count',
  },
  'server.httpPort': {
    about:
      'plain-HTTP listener that answers ACME HTTP-01 challenges and redirects the rest to HTTPS; null: port 80 when ACME is on, none otherwise; off: never',
  },
  'server.trustProxy': { about: 'addresses or CIDR blocks of proxies whose X-Forwarded-For/-Proto are believed' },
  'server.shutdownDelaySeconds': { about: 'on SIGTERM, readiness fails this long before the listener closes' },
  'server.shutdownGraceSeconds': { about: 'after the listener closes, requests in flight get this long to finish' },
  'server.workers': {
    about:
      'processes that serve the port, each a full server on the shared storage under one supervisor; null: one per core the process may use (taskset and cgroup CPU sets count); 1 serves in the one process',
  },
  'tls.enabled': { env: 'ACIHOST_TLS', about: 'false (off) serves plain HTTP, for a TLS-terminating proxy in front' },
  'tls.cert': { about: 'certificate chain file (PEM); null: the development CA, or ACME. Reloaded on change and on SIGHUP' },
  'tls.key': { about: 'private key file (PEM) of tls.cert; set both or neither' },
  'tls.devCertsDir': { about: 'where the development CA and its certificate are kept when no certificate is configured' },
  'tls.watchIntervalMs': { about: 'how often certificate files are checked for changes' },
  'tls.acme.directoryUrl': {
    env: 'ACIHOST_ACME_DIRECTORY',
    about: 'null: ACME off; letsencrypt, letsencrypt-staging or an ACME directory URL turns it on',
  },
  'tls.acme.email': { about: "contact for the CA's expiry notices" },
  'tls.acme.agreeTos': { about: "must be true (your agreement to the CA's terms of service) for ACME to run" },
  'tls.acme.caFile': { about: "extra CA certificate(s) for a private ACME server's own HTTPS (step-ca, Pebble)" },
  'tls.acme.checkIntervalSeconds': { about: 'how often the certificate is checked for renewal (and re-read from storage)' },
  'tls.acme.pollIntervalMs': { about: "how often an open order's status is polled" },
  'storage.backend': { about: 'fs, or s3 for an S3-compatible object store shared by replicas' },
  'storage.dir': { about: 'directory of the fs backend' },
  'storage.sweepGraceSeconds': { about: 'staging older than this is removed' },
  'storage.pollIntervalMs': { about: 'how often keys, tokens and the change journal are re-read' },
  'storage.indexSnapshotNames': {
    about:
      'from this many names on, the index is also kept as one snapshot object (index/catalog.json), so a restart reads it and the change journal instead of every record; 0: never',
  },
  'storage.s3.endpoint': { about: 'null: AWS; set it for Ceph RGW, MinIO...' },
  'storage.s3.region': { about: 'region of the bucket' },
  'storage.s3.bucket': { about: 'bucket name; required with the s3 backend' },
  'storage.s3.prefix': { about: 'key prefix inside the bucket' },
  'storage.s3.forcePathStyle': { about: 'true for RGW and MinIO (bucket in the path, not the host name)' },
  'storage.s3.caFile': { about: "extra CA certificate(s) for the endpoint's TLS" },
  'storage.s3.accessKeyId': { env: 'AWS_ACCESS_KEY_ID', about: 'null: the AWS SDK finds credentials; prefer the environment to a file' },
  'storage.s3.secretAccessKey': {
    env: 'AWS_SECRET_ACCESS_KEY',
    secret: true,
    about: 'null: the AWS SDK finds credentials; prefer the environment to a file',
  },
  'storage.s3.timeoutMs': { about: 'a store that does not answer within this is "unavailable" (503)' },
  'storage.s3.partSizeBytes': {
    about: 'multipart part size, 5 MiB (the smallest S3 allows) to 64 MiB; an upload holds two parts in memory (one sending, one filling)',
  },
  'limits.maxCompressedBytes': { about: 'largest ACI accepted, as uploaded' },
  'limits.maxUncompressedBytes': { about: 'largest ACI accepted, uncompressed' },
  'limits.maxEntries': { about: 'most tar entries in one ACI' },
  'limits.maxManifestBytes': { about: 'largest image manifest' },
  'limits.maxPathBytes': { about: 'longest path inside an ACI' },
  'limits.maxUploadSessionsPerToken': {
    about:
      'acpush uploads one token may hold open (not expired); past it a start answers 429 UPLOAD_SESSIONS_LIMIT. Counted by each server and recounted from storage at every sweep, so servers sharing storage may briefly allow a few more',
  },
  'limits.maxConcurrentUploadsPerToken': {
    about: 'pushes and acpush part uploads one token may send at once; past it, 429 UPLOADS_CONCURRENCY_LIMIT',
  },
  'limits.answerCacheBytes': {
    about:
      'each of the two in-memory caches of answers (rendered pages; anonymous answers given before routing) holds at most this, the least recently used going first; 0: none',
  },
  'tokens.defaultExpiry': { about: 'lifetime of a token made without --expires (CLI) or expires (API), such as 90d, 12h or 1y' },
  'acpush.uploadExpirySeconds': { about: 'an acpush upload idle this long (since its last stored part) is refused and its parts removed' },
  'access.privatePrefixes': { about: 'name prefixes (under the image domain) whose downloads need a token with the pull scope' },
  'verify.intervalSeconds': {
    about:
      're-check every published image inside the server this often (the first run one interval after start), results in /-/metrics; 0: off',
  },
  'retention.intervalSeconds': {
    about:
      'apply the retention policies (acihost retention set) inside the server this often (the first run one interval after start; of replicas sharing storage, one does each run); 0: off',
  },
  'audit.keepDays': {
    about: 'the sweep removes whole days of the audit log whose events are all older than this many days; 0: keep every day',
  },
  'log.level': { about: 'least severe log level written' },
  'metrics.requireToken': { about: 'false: GET /-/metrics is open; true: it needs a token with the metrics scope' },
  'rateLimit.failedAuthAttempts': { about: 'failed authentications allowed per client address within the window before 429' },
  'rateLimit.windowSeconds': { about: 'the window of rateLimit.failedAuthAttempts' },
  'webhooks.retryForSeconds': {
    about: 'a failed webhook delivery is retried 1 s, 2 s, 4 s... apart (at most an hour) until this long after its event',
  },
  'webhooks.timeoutSeconds': { about: 'an attempt to deliver that has not been answered within this has failed (and is retried)' },
  'webhooks.leaseSeconds': {
    about:
      "a replica's claim on a delivery lasts this long: a replica that dies mid-attempt is replaced after it; longer than timeoutSeconds",
  },
  'webhooks.subscriptions': {
    about:
      'subscriptions kept in the configuration: [{name, prefix, url, events, secretFile or secretEnv, allowHttp, allowPrivateTarget}] ([Operations](operations.md#webhooks)); more are added with acihost webhook add',
  },
  'mirrors.refreshSeconds': {
    about: 'a converted upstream tag is looked up again when a request comes this long after the last look; a moved tag is converted anew',
  },
  'mirrors.timeoutSeconds': { about: 'an upstream registry that sends nothing for this long has failed (504)' },
  'mirrors.waitSeconds': { about: 'a request waits at most this long for a conversion under way, on this replica or another' },
  'mirrors.scratchDir': { about: "where layers are kept while an image is converted; null: the system's temporary directory" },
  'mirrors.gzipLevel': { about: 'gzip level of converted images: 1 converts fastest, 9 stores least' },
  'mirrors.maxConversions': {
    about:
      'conversions one server process runs at once (each spools its layers to scratchDir); past it a conversion is refused with 429 CONVERSIONS_BUSY until one ends',
  },
  'mirrors.upstreams': {
    about:
      'the allow-list: [{source, prefix, pullThrough, caFile, insecureHttp, username, passwordFile or passwordEnv}] ([Mirrors](mirrors.md)); nothing else is fetched',
  },
};
