/**
 * One certificate order with acme-client (RFC 8555): account, order, challenge,
 * finalize, download the full chain. The challenge type is chosen by what this
 * process can answer: HTTP-01 when the plain-HTTP listener is open, TLS-ALPN-01
 * on the HTTPS port otherwise.
 */
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import * as acme from 'acme-client';
import type { AcmeChallenges } from './acme-challenges.ts';

export type ChallengeType = 'http-01' | 'tls-alpn-01';

export interface OrderRequest {
  directoryUrl: string;
  accountKeyPem: string;
  email: string | null;
  domain: string;
  challenge: ChallengeType;
  challenges: AcmeChallenges;
  /** Polling backoff floor; acme-client's 5 s default slows every order against a fast CA. */
  backoffMinMs: number;
}

/** Makes acme-client trust a private ACME server's CA, besides the system roots. */
export function trustAcmeCa(caFile: string | null): void {
  if (caFile === null) return;
  const ca = [...rootCertificates, readFileSync(caFile, 'utf8')];
  acme.axios.defaults.httpsAgent = new Agent({ ca, keepAlive: false });
}

export async function newAccountKey(): Promise<string> {
  return (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
}

/** Orders a certificate for `req.domain`; returns the full chain and its new key. */
export async function orderCertificate(req: OrderRequest): Promise<{ certPem: string; keyPem: string }> {
  const client = new acme.Client({
    directoryUrl: req.directoryUrl,
    accountKey: req.accountKeyPem,
    backoffMin: req.backoffMinMs,
    backoffMax: Math.max(req.backoffMinMs * 10, 10_000),
  });
  const key = await acme.crypto.createPrivateEcdsaKey('P-256');
  const [, csr] = await acme.crypto.createCsr({ commonName: req.domain, altNames: [req.domain] }, key);
  const chain = await client.auto({
    csr,
    email: req.email ?? undefined,
    termsOfServiceAgreed: true,
    // The CA validates for real; acme-client's own pre-check would need public DNS from here.
    skipChallengeVerification: true,
    challengePriority: [req.challenge],
    challengeCreateFn: async (authz, challenge, keyAuthorization) => {
      if (challenge.type === 'http-01') req.challenges.setHttp01(challenge.token, keyAuthorization);
      else {
        const [alpnKey, alpnCert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization);
        req.challenges.setTlsAlpn01(authz.identifier.value, alpnCert.toString(), alpnKey.toString());
      }
    },
    challengeRemoveFn: async (authz, challenge) => {
      req.challenges.remove(challenge.token, authz.identifier.value);
    },
  });
  return { certPem: chain, keyPem: key.toString() };
}
