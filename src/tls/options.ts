/**
 * TLS settings for the HTTPS listener.
 *
 * rkt and acpush builds differ in their Go: the recorded ones negotiate TLS 1.3
 * (docs/acpush-wire.md), while builds with a Go older than 1.12 speak TLS 1.2 at
 * most and need ECDHE with AES-GCM (docs/operations.md#tls-and-acme). Node's default cipher list already offers
 * ECDHE-ECDSA-AES128-GCM-SHA256 and ECDHE-ECDSA-AES256-GCM-SHA384 for an ECDSA
 * certificate (test/tls/options.test.ts checks this), so only the floor is set:
 * TLS 1.0/1.1 are refused, TLS 1.3 stays available to modern clients.
 */
import type { ServerOptions } from 'node:https';

export const MIN_TLS_VERSION = 'TLSv1.2';

/** Options for `https.createServer()` or Fastify's `https` option. */
export function httpsOptions(certPem: string | Buffer, keyPem: string | Buffer): ServerOptions {
  return {
    cert: certPem,
    key: keyPem,
    minVersion: MIN_TLS_VERSION,
  };
}
