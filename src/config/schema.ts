import { z } from 'zod';
import { AC_IDENTIFIER } from '../names.ts';
import { parseDuration } from './duration.ts';
import { acmeRequirements, metricsSchema, proxyAddress, rateLimitSchema, tlsSchema } from './ops-schema.ts';
import { mirrorsSchema } from './mirrors-schema.ts';
import { webhooksSchema } from './webhooks-schema.ts';

/**
 * S3 keys hold 1024 bytes, and the longest key an image can have takes 706 of them
 * (src/aci/coordinates.ts; a test keeps the two figures in step).
 */
export const MAX_S3_PREFIX_BYTES = 1024 - 706;

const port = z.number().int().min(0).max(65535);
const positiveInt = z.number().int().positive();

/** One problem at a time, from the most basic, so a value with no scheme gets one clear line. */
const publicUrl = z.string().superRefine((s, ctx) => {
  const problem = (message: string) => ctx.addIssue({ code: 'custom', message });
  if (/^http:\/\//i.test(s)) {
    // Behind a TLS-terminating proxy too: this is the URL clients use, not the one acihost listens on.
    return problem('must start with https://: rkt discovers over https only (behind a TLS-terminating proxy too)');
  }
  if (!/^https:\/\//i.test(s)) {
    const host = /^[\w.-]+(:\d+)?$/.test(s) ? s : 'aci.example.com';
    return problem(`must start with https://, such as https://${host}`);
  }
  if (!URL.canParse(s)) return problem('must be a URL such as https://aci.example.com');
  const u = new URL(s);
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash || u.username) {
    problem('must be an origin only, such as https://aci.example.com (no path, query or credentials)');
  }
});

const namePrefix = z.string().regex(AC_IDENTIFIER, 'must be an image name prefix such as aci.example.com/team');

const duration = z.string().refine((s) => parseDuration(s) !== null, 'must be a duration such as 30d, 12h or 90m');

/**
 * Prefixes outside the image domain would match nothing: a private one would leave the
 * intended names public, and a mirror's would never be served.
 */
function prefixesUnderDomain(
  c: { server: { publicUrl: string }; access: { privatePrefixes: string[] }; mirrors: { upstreams: { prefix: string }[] } },
  ctx: z.RefinementCtx,
): void {
  // An unreadable public URL is reported on its own.
  if (!URL.canParse(c.server.publicUrl)) return;
  const domain = new URL(c.server.publicUrl).hostname;
  const check = (p: string, path: (string | number)[]) => {
    if (p !== domain && !p.startsWith(`${domain}/`)) {
      ctx.addIssue({ code: 'custom', path, message: `must be ${domain} or a prefix under it (the image domain)` });
    }
  };
  c.access.privatePrefixes.forEach((p, i) => check(p, ['access', 'privatePrefixes', i]));
  c.mirrors.upstreams.forEach((u, i) => check(u.prefix, ['mirrors', 'upstreams', i, 'prefix']));
}

const s3Schema = z
  .object({
    endpoint: z.string().url().nullable(),
    region: z.string().min(1),
    bucket: z.string(),
    prefix: z
      .string()
      .refine((p) => !p.startsWith('/'), 'must not start with /')
      // The longest image key must still fit in S3's 1024 bytes behind it.
      .refine((p) => Buffer.byteLength(p) <= MAX_S3_PREFIX_BYTES, `must be at most ${MAX_S3_PREFIX_BYTES} bytes`),
    forcePathStyle: z.boolean(),
    caFile: z.string().min(1).nullable(),
    accessKeyId: z.string().min(1).nullable(),
    secretAccessKey: z.string().min(1).nullable(),
    timeoutMs: z.number().int().min(100),
    // S3 allows parts of 5 MiB and more; an upload holds two parts in memory: one sending, one filling (s3-multipart.ts).
    partSizeBytes: z
      .number()
      .int()
      .min(5 * 1024 * 1024)
      .max(64 * 1024 * 1024),
  })
  .strict();

// Every section is .strict(): an unknown key is a typo that would silently keep a default.
export const configSchema = z
  .object({
    server: z
      .object({
        host: z.string().min(1),
        port,
        publicUrl,
        requestTimeoutSeconds: positiveInt,
        headersTimeoutSeconds: positiveInt,
        keepAliveTimeoutSeconds: positiveInt,
        idleTimeoutSeconds: positiveInt,
        minTransferBytesPerSecond: z.number().int().min(0),
        // Plain-HTTP listener for ACME HTTP-01 challenges and redirects; null: port 80 when ACME is on; 'off': never.
        httpPort: z.union([port, z.literal('off')]).nullable(),
        // Proxies whose X-Forwarded-For/-Proto are believed (addresses or CIDR blocks).
        trustProxy: z.array(proxyAddress),
        // On SIGTERM: readiness fails for this long before the listener closes, then requests get this long to finish.
        shutdownDelaySeconds: z.number().min(0),
        shutdownGraceSeconds: z.number().min(0),
        // Processes serving the port; null: one per core this process may use.
        workers: z.number().int().min(1).max(256).nullable(),
      })
      .strict(),
    // Certificate files (reloaded on change), ACME, the development CA, or off behind a proxy (ops-schema.ts).
    tls: tlsSchema,
    storage: z
      .object({
        backend: z.enum(['fs', 's3']),
        dir: z.string().min(1),
        sweepGraceSeconds: z.number().int().min(0),
        pollIntervalMs: z.number().int().min(100).max(2000),
        // From this many names on, the index is kept as a snapshot in storage so a restart need not read every record; 0: never.
        indexSnapshotNames: z.number().int().min(0),
        s3: s3Schema,
      })
      .strict()
      .refine((st) => st.backend !== 's3' || st.s3.bucket !== '', {
        message: 'must be set when storage.backend is s3 (ACIHOST_S3_BUCKET)',
        path: ['s3', 'bucket'],
      }),
    limits: z
      .object({
        maxCompressedBytes: positiveInt,
        maxUncompressedBytes: positiveInt,
        maxEntries: positiveInt,
        maxManifestBytes: positiveInt.max(64 * 1024 * 1024),
        maxPathBytes: positiveInt.max(65536),
        // acpush uploads one token may hold open at once; past it a start is refused (429).
        maxUploadSessionsPerToken: positiveInt,
        // Uploads (pushes and acpush parts) one token may send at once; past it they are answered 429.
        maxConcurrentUploadsPerToken: positiveInt,
        // Each in-memory cache of answers (rendered pages; answers given before routing) holds at most this; 0: none.
        answerCacheBytes: z.number().int().min(0),
      })
      .strict(),
    tokens: z.object({ defaultExpiry: duration }).strict(),
    // An acpush upload idle this long is refused and its parts removed (src/registry/acpush/).
    acpush: z.object({ uploadExpirySeconds: positiveInt }).strict(),
    // Downloads under these prefixes need a token with the pull scope (src/registry/access/read-access.ts).
    access: z.object({ privatePrefixes: z.array(namePrefix) }).strict(),
    // `acihost verify` inside the server every this many seconds, results in /-/metrics; 0 turns it off.
    verify: z.object({ intervalSeconds: z.number().int().nonnegative() }).strict(),
    // The retention policies applied inside the server every this many seconds (src/registry/upkeep/retention.ts); 0 turns it off.
    retention: z.object({ intervalSeconds: z.number().int().nonnegative() }).strict(),
    // Whole days of the audit log older than this are removed by the sweep; 0 keeps every day.
    audit: z.object({ keepDays: z.number().int().nonnegative() }).strict(),
    log: z.object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) }).strict(),
    metrics: metricsSchema,
    rateLimit: rateLimitSchema,
    // HTTPS endpoints told of pushes, deletes and key changes (src/registry/webhooks/).
    webhooks: webhooksSchema,
    // Upstream OCI/Docker repositories converted into signed ACIs, on request or on first fetch (src/registry/mirror/).
    mirrors: mirrorsSchema,
  })
  .strict()
  .superRefine(prefixesUnderDomain)
  .superRefine(acmeRequirements);

export type Config = z.infer<typeof configSchema>;
