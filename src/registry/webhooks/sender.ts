/**
 * One attempt to deliver: a signed JSON POST to the subscriber's URL, and what came of it.
 */
import { createHmac } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { getCACertificates } from 'node:tls';
import { bareHost, checkedLookup, isPrivateAddress, PrivateTargetError, type Resolve, type TargetPolicy } from './target.ts';
import { isIP } from 'node:net';

/** What became of an attempt; anything but `delivered` is retried. */
export type AttemptOutcome = 'delivered' | 'http_error' | 'timeout' | 'connection_failed' | 'target_refused';

export interface AttemptResult {
  outcome: AttemptOutcome;
  /** The HTTP status the subscriber answered, null when it answered none. */
  status: number | null;
  /** Why it failed, in a line (never the subscriber's body). */
  error: string | null;
  durationMs: number;
}

/** `t=UNIX_SECONDS,v1=HEX`: HMAC-SHA256 keyed with the secret over `t + "." + body` (docs/operations.md#webhooks). */
export function signatureHeader(secret: string, body: Buffer, unixSeconds: number): string {
  const hex = createHmac('sha256', secret).update(`${unixSeconds}.`).update(body).digest('hex');
  return `t=${unixSeconds},v1=${hex}`;
}

export interface Delivery {
  url: string;
  secret: string;
  policy: TargetPolicy;
  eventId: string;
  kind: string;
  body: Buffer;
}

// Whatever a subscriber answers is read and dropped, up to this; past it the connection is closed.
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * Sends deliveries, over keep-alive connections: one pool per rule on private targets, since
 * the rule is applied when a connection is made and a connection must not serve the other rule.
 */
export class Sender {
  private readonly agents = new Map<string, HttpAgent>();
  private readonly timeoutMs: number;
  private readonly ca: string[] | undefined;
  private readonly userAgent: string;
  private readonly resolve: Resolve | undefined;

  /**
   * `extraCa`: certificates trusted besides the system's and NODE_EXTRA_CA_CERTS (in-process
   * tests); `resolve`: how names are resolved (dns.lookup unless a test stands in for it).
   */
  constructor(opts: { timeoutMs: number; extraCa?: string[]; userAgent: string; resolve?: Resolve }) {
    this.timeoutMs = opts.timeoutMs;
    this.ca = opts.extraCa?.length ? [...getCACertificates('default'), ...opts.extraCa] : undefined;
    this.userAgent = opts.userAgent;
    this.resolve = opts.resolve;
  }

  private agent(https: boolean, allowPrivate: boolean): HttpAgent {
    const name = `${https}/${allowPrivate}`;
    let agent = this.agents.get(name);
    if (!agent) {
      const options = { keepAlive: true, timeout: 30_000, lookup: checkedLookup(allowPrivate, this.resolve) };
      agent = https ? new HttpsAgent({ ...options, ca: this.ca }) : new HttpAgent(options);
      this.agents.set(name, agent);
    }
    return agent;
  }

  async send(d: Delivery, now = Date.now()): Promise<AttemptResult> {
    const started = performance.now();
    const done = (outcome: AttemptOutcome, status: number | null, error: string | null): AttemptResult => ({
      outcome,
      status,
      error,
      durationMs: Math.round(performance.now() - started),
    });
    const url = new URL(d.url);
    const https = url.protocol === 'https:';
    if (!https && !d.policy.allowHttp) return done('target_refused', null, 'plain http is not allowed for this subscription');
    // Literal addresses are never looked up, so they are checked here.
    const host = bareHost(url);
    if (isIP(host) && !d.policy.allowPrivateTarget && isPrivateAddress(host)) {
      return done('target_refused', null, new PrivateTargetError(host, host).message);
    }
    const headers = {
      'content-type': 'application/json',
      'content-length': d.body.length,
      'user-agent': this.userAgent,
      'x-acihost-event': d.kind,
      'x-acihost-delivery': d.eventId,
      'x-acihost-signature': signatureHeader(d.secret, d.body, Math.floor(now / 1000)),
    };
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const send = https ? httpsRequest : httpRequest;
        const req = send(url, { method: 'POST', headers, agent: this.agent(https, d.policy.allowPrivateTarget), signal }, (res) =>
          drain(res).then(() => resolve(res.statusCode ?? 0), reject),
        );
        req.on('error', reject);
        req.end(d.body);
      });
      if (status >= 200 && status < 300) return done('delivered', status, null);
      return done('http_error', status, `the subscriber answered ${status}`);
    } catch (e) {
      if (e instanceof PrivateTargetError) return done('target_refused', null, e.message);
      if (signal.aborted) return done('timeout', null, `no answer within ${this.timeoutMs / 1000} s`);
      const err = e as NodeJS.ErrnoException;
      return done('connection_failed', null, err.code ? `${err.code}: ${err.message}` : err.message);
    }
  }

  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }
}

/** Reads and drops an answer; one longer than MAX_ANSWER_BYTES ends its connection instead of being read. */
function drain(res: IncomingMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    let read = 0;
    res.on('data', (chunk: Buffer) => {
      read += chunk.length;
      if (read > MAX_ANSWER_BYTES) {
        res.destroy();
        resolve();
      }
    });
    res.on('end', resolve);
    res.on('error', reject);
  });
}
