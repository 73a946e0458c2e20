/**
 * A real webhook receiver for tests: an HTTPS server with a certificate of its own test CA,
 * that checks each delivery as docs/operations.md#webhooks tells receivers to (the signature
 * over `t.body` with the subscription's secret, `t` within the tolerance, and no signature
 * accepted twice), and answers as the test's plan says: a status, or no answer at all.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { createTestCertificate } from './tls.ts';

/** Seconds a signature's time may be off from the receiver's clock. */
export const TOLERANCE_SECONDS = 300;

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** When it arrived (ms). */
  at: number;
  /** The signature checked out, fresh and not seen before. */
  verified: boolean;
  /** Why it was refused, when it was. */
  refusal: string | null;
  /** What was answered; null while hanging. */
  status: number | null;
}

/** What to answer the `n`th request (1, 2...) of one delivery id: a status, or 'hang' (never answer). */
export type Plan = (deliveryId: string, n: number, request: Received) => number | 'hang';

export interface Receiver {
  /** https://localhost:PORT */
  origin: string;
  port: number;
  caPem: string;
  /** Its certificate, for another receiver to present. */
  tls: Certificate;
  /** The secret each path's deliveries are signed with. */
  secrets: Map<string, string>;
  plan: Plan;
  received: Received[];
  /** Requests that checked out and were answered 2xx, per delivery id. */
  accepted(): Map<string, Received[]>;
  /** Called with each request as it arrives (before it is answered). */
  onRequest?: (r: Received) => void;
  close(): Promise<void>;
}

function verify(secret: string | undefined, header: string | undefined, body: Buffer, seen: Set<string>): string | null {
  if (secret === undefined) return 'no secret for this path';
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return 'no signature header';
  const [, t, v1] = m as unknown as [string, string, string];
  if (Math.abs(Date.now() / 1000 - Number(t)) > TOLERANCE_SECONDS) return 'signature time outside the tolerance';
  const expected = createHmac('sha256', secret).update(`${t}.`).update(body).digest();
  if (!timingSafeEqual(expected, Buffer.from(v1, 'hex'))) return 'signature mismatch';
  if (seen.has(header!)) return 'replayed signature';
  seen.add(header!);
  return null;
}

type Certificate = Awaited<ReturnType<typeof createTestCertificate>>;

/**
 * `port`: listen there (a port a subscription was already pointed at), a free one by default;
 * `tls`: present this certificate, instead of one of a new CA for `hosts`.
 */
export async function startReceiver(opts: { hosts?: string[]; plan?: Plan; port?: number; tls?: Certificate } = {}): Promise<Receiver> {
  const tls = opts.tls ?? (await createTestCertificate(opts.hosts ?? ['localhost', '127.0.0.1']));
  const { caPem, certPem, keyPem } = tls;
  const sockets = new Set<Socket>();
  const seen = new Set<string>();
  const counts = new Map<string, number>();
  let server: Server;
  const receiver: Receiver = {
    origin: '',
    port: 0,
    caPem,
    tls,
    secrets: new Map(),
    plan: opts.plan ?? (() => 200),
    received: [],
    accepted() {
      const out = new Map<string, Received[]>();
      for (const r of receiver.received) {
        if (!r.verified || r.status === null || r.status >= 300) continue;
        const id = String(r.headers['x-acihost-delivery']);
        out.set(id, [...(out.get(id) ?? []), r]);
      }
      return out;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  server = createServer({ cert: certPem, key: keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const path = req.url ?? '/';
      const refusal = verify(receiver.secrets.get(path), req.headers['x-acihost-signature'] as string | undefined, body, seen);
      const r: Received = { path, headers: req.headers, body, at: Date.now(), verified: refusal === null, refusal, status: null };
      receiver.received.push(r);
      receiver.onRequest?.(r);
      if (refusal !== null) {
        r.status = 401;
        res.writeHead(401).end(refusal);
        return;
      }
      const id = String(req.headers['x-acihost-delivery']);
      const n = (counts.get(id) ?? 0) + 1;
      counts.set(id, n);
      const answer = receiver.plan(id, n, r);
      if (answer === 'hang') return;
      r.status = answer;
      res.writeHead(answer, { 'content-type': 'text/plain' }).end(answer < 300 ? 'ok' : 'not now');
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  receiver.port = (server.address() as { port: number }).port;
  receiver.origin = `https://localhost:${receiver.port}`;
  return receiver;
}
