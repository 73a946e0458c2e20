/**
 * Configuration sections for running acihost as a service: TLS sources (files,
 * ACME, off behind a proxy), metrics, failed-authentication limits. Kept apart
 * from schema.ts so that file stays a readable table of sections.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

/** Short names for well-known ACME directories; anything else must be an https URL. */
export const ACME_DIRECTORIES: Record<string, string> = {
  letsencrypt: 'https://acme-v02.api.letsencrypt.org/directory',
  'letsencrypt-staging': 'https://acme-staging-v02.api.letsencrypt.org/directory',
};

const acmeDirectory = z
  .string()
  .refine((s) => s in ACME_DIRECTORIES || URL.canParse(s), 'must be an ACME directory URL, or letsencrypt / letsencrypt-staging');

const acmeSchema = z
  .object({
    // null: ACME is off. Turning it on is this one entry (ACIHOST_ACME_DIRECTORY).
    directoryUrl: acmeDirectory.nullable(),
    email: z.string().email().nullable(),
    // The operator's explicit agreement to the CA's terms of service; ACME refuses to run without it.
    agreeTos: z.boolean(),
    // Extra CA certificate(s) to reach a private ACME server's own HTTPS (step-ca, Pebble).
    caFile: z.string().min(1).nullable(),
    // How often the stored certificate is checked for renewal (and re-read, for replicas).
    checkIntervalSeconds: z.number().int().min(1),
    // How often an open order's status is polled (acme-client's backoff floor).
    pollIntervalMs: z.number().int().min(10),
  })
  .strict();

export const tlsSchema = z
  .object({
    // false (ACIHOST_TLS=off): plain HTTP for a TLS-terminating proxy in front.
    enabled: z.boolean(),
    cert: z.string().min(1).nullable(),
    key: z.string().min(1).nullable(),
    devCertsDir: z.string().min(1),
    // How often certificate files are checked for changes (SIGHUP reloads at once).
    watchIntervalMs: z.number().int().min(50),
    acme: acmeSchema,
  })
  .strict()
  .refine((t) => (t.cert === null) === (t.key === null), 'tls.cert and tls.key must be set together')
  .refine((t) => t.acme.directoryUrl === null || t.cert === null, 'use either tls.acme or tls.cert/tls.key, not both');

export const metricsSchema = z
  .object({
    // GET /-/metrics needs a token with the metrics scope when true.
    requireToken: z.boolean(),
  })
  .strict();

export const rateLimitSchema = z
  .object({
    // Failed authentications allowed per client address within the window before 429.
    failedAuthAttempts: z.number().int().min(1),
    windowSeconds: z.number().int().min(1),
  })
  .strict();

/** An address or CIDR block for Fastify's trustProxy (proxy-addr syntax). */
export const proxyAddress = z.string().refine((s) => {
  const [addr, bits, extra] = s.split('/');
  if (extra !== undefined || !addr || isIP(addr) === 0) return false;
  return bits === undefined || /^\d{1,3}$/.test(bits);
}, 'must be an IP address or CIDR block such as 10.0.0.0/8');

type AcmeView = { server: { publicUrl: string }; tls: { enabled: boolean; acme: z.infer<typeof acmeSchema> } };

/** ACME needs a DNS name to order for, the operator's agreement, and TLS on. */
export function acmeRequirements(c: AcmeView, ctx: z.RefinementCtx): void {
  // An unreadable public URL is reported on its own.
  if (c.tls.acme.directoryUrl === null || !URL.canParse(c.server.publicUrl)) return;
  const problem = (path: string[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  if (!c.tls.acme.agreeTos) {
    problem(
      ['tls', 'acme', 'agreeTos'],
      "ACME needs your agreement to the CA's terms of service: read them, then set tls.acme.agreeTos to true (ACIHOST_ACME_AGREE_TOS=true)",
    );
  }
  const host = new URL(c.server.publicUrl).hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) !== 0 || !host.includes('.')) {
    problem(
      ['server', 'publicUrl'],
      `ACME certificates name a public DNS name; ${host} is not one (set ACIHOST_PUBLIC_URL to https://your.host.name)`,
    );
  }
  if (!c.tls.enabled) problem(['tls', 'enabled'], 'ACME needs TLS on; behind a TLS-terminating proxy, let the proxy get the certificate');
}

/** Resolves a directory short name to its URL. */
export const acmeDirectoryUrl = (value: string): string => ACME_DIRECTORIES[value] ?? value;
