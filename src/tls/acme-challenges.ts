/**
 * Answers to ACME challenges while an order is open.
 *
 * HTTP-01 (RFC 8555 §8.3): GET /.well-known/acme-challenge/TOKEN on port 80
 * answers the key authorization. TLS-ALPN-01 (RFC 8737): a handshake on the
 * HTTPS port that offers the `acme-tls/1` protocol gets a self-signed
 * certificate carrying the key authorization's digest. Node picks the protocol
 * (ALPNCallback) before the certificate (SNICallback), with the socket as
 * `this` in both, so the socket is marked in the first and answered in the second.
 * The CA may reach any worker of the server: each challenge is told to them all.
 */
import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import { NO_PEERS, type Peers } from '../registry/peers.ts';

export const ACME_TLS_PROTOCOL = 'acme-tls/1';
const HTTP01_PREFIX = '/.well-known/acme-challenge/';

type Change =
  | { op: 'http-01'; token: string; keyAuthorization: string }
  | { op: 'tls-alpn-01'; domain: string; certPem: string; keyPem: string }
  | { op: 'remove'; token: string; domain: string };

const TOPIC = 'acme-challenge';

export class AcmeChallenges {
  private readonly http01 = new Map<string, string>();
  private readonly tlsAlpn01 = new Map<string, SecureContext>();
  private readonly alpnSockets = new WeakSet<TLSSocket>();
  private readonly peers: Peers;

  constructor(peers: Peers = NO_PEERS) {
    this.peers = peers;
    peers.hear(TOPIC, (change) => this.apply(change as Change));
  }

  setHttp01(token: string, keyAuthorization: string): void {
    this.change({ op: 'http-01', token, keyAuthorization });
  }

  setTlsAlpn01(domain: string, certPem: string, keyPem: string): void {
    this.change({ op: 'tls-alpn-01', domain, certPem, keyPem });
  }

  remove(token: string, domain: string): void {
    this.change({ op: 'remove', token, domain });
  }

  private change(change: Change): void {
    this.apply(change);
    this.peers.tell(TOPIC, change);
  }

  private apply(change: Change): void {
    if (change.op === 'http-01') {
      this.http01.set(change.token, change.keyAuthorization);
    } else if (change.op === 'tls-alpn-01') {
      this.tlsAlpn01.set(change.domain.toLowerCase(), createSecureContext({ cert: change.certPem, key: change.keyPem }));
    } else {
      this.http01.delete(change.token);
      this.tlsAlpn01.delete(change.domain.toLowerCase());
    }
  }

  /** The key authorization for a challenge path, or undefined. */
  http01Answer(path: string): string | undefined {
    if (!path.startsWith(HTTP01_PREFIX)) return undefined;
    return this.http01.get(path.slice(HTTP01_PREFIX.length));
  }

  isHttp01Path(path: string): boolean {
    return path.startsWith(HTTP01_PREFIX);
  }

  /**
   * Options for the HTTPS server: ALPN selection that marks acme-tls/1 handshakes,
   * and SNI that gives them the challenge certificate. Every other handshake keeps
   * the server's current certificate (a callback answer of undefined).
   */
  tlsOptions(): {
    ALPNCallback: (this: TLSSocket, info: { servername: string; protocols: string[] }) => string | undefined;
    SNICallback: (this: TLSSocket, servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;
  } {
    const challenges = this;
    return {
      ALPNCallback(info) {
        if (info.protocols.includes(ACME_TLS_PROTOCOL) && challenges.tlsAlpn01.has(info.servername?.toLowerCase())) {
          challenges.alpnSockets.add(this);
          return ACME_TLS_PROTOCOL;
        }
        // Node refuses the handshake when this returns undefined, so pick HTTP/1.1 whenever it is offered.
        return info.protocols.includes('http/1.1') ? 'http/1.1' : undefined;
      },
      SNICallback(servername, cb) {
        const context = challenges.alpnSockets.has(this) ? challenges.tlsAlpn01.get(servername.toLowerCase()) : undefined;
        cb(null, context);
      },
    };
  }
}
