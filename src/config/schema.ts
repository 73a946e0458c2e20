import { z } from 'zod';
import { AC_IDENTIFIER } from '../aci/name.ts';
import { parseDuration } from './duration.ts';

const port = z.number().int().min(0).max(65535);
const positiveInt = z.number().int().positive();

const publicUrl = z
  .string()
  .url()
  .refine((s) => new URL(s).protocol === 'https:', 'must be an https:// URL (rkt discovers over https only)')
  .refine((s) => {
    const u = new URL(s);
    return (u.pathname === '/' || u.pathname === '') && !u.search && !u.hash && !u.username;
  }, 'must be an origin only, such as https://aci.example.com (no path, query or credentials)');

const namePrefix = z.string().regex(AC_IDENTIFIER, 'must be an image name prefix such as aci.example.com/team');

const duration = z.string().refine((s) => parseDuration(s) !== null, 'must be a duration such as 30d, 12h or 90m');

/** A private prefix outside the image domain would match nothing and leave the intended names public. */
function privatePrefixesUnderDomain(c: { server: { publicUrl: string }; access: { privatePrefixes: string[] } }, ctx: z.RefinementCtx): void {
  const domain = new URL(c.server.publicUrl).hostname;
  c.access.privatePrefixes.forEach((p, i) => {
    if (p !== domain && !p.startsWith(`${domain}/`)) {
      ctx.addIssue({ code: 'custom', path: ['access', 'privatePrefixes', i], message: `must be ${domain} or a prefix under it (the image domain)` });
    }
  });
}

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
      })
      .strict(),
    tls: z
      .object({
        cert: z.string().min(1).nullable(),
        key: z.string().min(1).nullable(),
        devCertsDir: z.string().min(1),
      })
      .strict()
      .refine((t) => (t.cert === null) === (t.key === null), 'tls.cert and tls.key must be set together'),
    storage: z
      .object({
        backend: z.literal('fs'),
        dir: z.string().min(1),
        sweepGraceSeconds: z.number().int().min(0),
        pollIntervalMs: z.number().int().min(100).max(2000),
      })
      .strict(),
    limits: z
      .object({
        maxCompressedBytes: positiveInt,
        maxUncompressedBytes: positiveInt,
        maxEntries: positiveInt,
        maxManifestBytes: positiveInt.max(64 * 1024 * 1024),
        maxPathBytes: positiveInt.max(65536),
      })
      .strict(),
    tokens: z.object({ defaultExpiry: duration }).strict(),
    // An acpush upload idle this long is refused and its parts removed (src/registry/uploads/).
    acpush: z.object({ uploadExpirySeconds: positiveInt }).strict(),
    // Downloads under these prefixes need a token with the pull scope (src/registry/read-access.ts).
    access: z.object({ privatePrefixes: z.array(namePrefix) }).strict(),
    log: z.object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) }).strict(),
  })
  .strict()
  .superRefine(privatePrefixesUnderDomain);

export type Config = z.infer<typeof configSchema>;
