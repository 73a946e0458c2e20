/**
 * One HTTP exchange with an upstream registry or its token service, on
 * node:http/node:https with agents of the client's own (its CA added to the
 * system roots, so a redirect to a public CDN still verifies). Network, TLS and
 * timing failures become typed errors that name the host and what to check.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { rootCertificates } from 'node:tls';
import { AcihostError, badGateway, gatewayTimeout } from '../errors.ts';

export interface UpstreamTimeouts {
  /** To open the connection, TLS handshake included. */
  connectMs: number;
  /** Without a byte from the upstream while one is awaited: the response headers, or the next part of a body. */
  idleMs: number;
}

export interface UpstreamConnection {
  /** `host[:port]` of the registry, for messages. */
  registry: string;
  insecureHttp: boolean;
  timeouts: UpstreamTimeouts;
  userAgent: string;
}

export class UpstreamAgents {
  readonly http = new HttpAgent({ keepAlive: true });
  readonly https: HttpsAgent;
  /** Sockets that have connected (and shaken hands): a request reusing one waits for its answer only. */
  readonly connected = new WeakSet<Socket>();
  constructor(ca: string | undefined) {
    this.https = new HttpsAgent({ keepAlive: true, ...(ca === undefined ? {} : { ca: [...rootCertificates, ca] }) });
  }
  destroy(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

/** Sends a bodiless request and resolves to the response once its headers are in; the body is the caller's to read or drain. */
export function send(
  url: URL,
  headers: OutgoingHttpHeaders,
  conn: UpstreamConnection,
  agents: UpstreamAgents,
  signal?: AbortSignal,
): Promise<IncomingMessage> {
  const host = url.host;
  if (url.protocol === 'http:' && !conn.insecureHttp) {
    return Promise.reject(
      badGateway(
        'UPSTREAM_BAD_RESPONSE',
        `${conn.registry} sent acihost to plain HTTP (${url.origin}), which it uses only for a registry configured with insecureHttp (acihost convert: --insecure-http)`,
      ),
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return Promise.reject(
      badGateway('UPSTREAM_BAD_RESPONSE', `${conn.registry} sent acihost to ${url.protocol} URL ${url.origin}, not HTTP(S)`),
    );
  }
  const https = url.protocol === 'https:';
  return new Promise<IncomingMessage>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const arm = (ms: number, error: () => AcihostError): void => {
      clearTimeout(timer);
      timer = setTimeout(() => req.destroy(error()), ms);
    };
    const req = (https ? httpsRequest : httpRequest)(
      url,
      {
        method: 'GET',
        headers: { 'user-agent': conn.userAgent, ...headers },
        agent: https ? agents.https : agents.http,
        ...(signal === undefined ? {} : { signal }),
      },
      (res) => {
        clearTimeout(timer);
        resolve(res);
      },
    );
    const waitForAnswer = (): void =>
      arm(conn.timeouts.idleMs, () =>
        gatewayTimeout(
          'UPSTREAM_TIMEOUT',
          `${host} accepted the connection but sent no answer within ${conn.timeouts.idleMs} ms; check that the registry at ${host} is healthy, or raise the idle timeout`,
        ),
      );
    arm(conn.timeouts.connectMs, () =>
      gatewayTimeout(
        'UPSTREAM_TIMEOUT',
        `${host} did not ${https ? 'complete a TLS connection' : 'connect'} within ${conn.timeouts.connectMs} ms; check that ${host} is reachable from this server (firewall, proxy, address)`,
      ),
    );
    req.once('socket', (socket) => {
      // A kept-alive socket is connected already.
      if (agents.connected.has(socket)) return waitForAnswer();
      socket.once(https ? 'secureConnect' : 'connect', () => {
        agents.connected.add(socket);
        waitForAnswer();
      });
    });
    req.once('error', (error) => {
      clearTimeout(timer);
      reject(describeFailure(error, host, conn));
    });
    req.end();
  });
}

/**
 * Fails `onIdle` when `res` sends nothing for `idleMs` while it is read. A
 * response held back because its reader is slow (paused) is not idle.
 */
export function watchIdle(res: IncomingMessage, idleMs: number, onIdle: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  const fire = (): void => {
    if (res.isPaused()) {
      timer = setTimeout(fire, idleMs);
      return;
    }
    stop();
    onIdle();
  };
  const reset = (): void => {
    clearTimeout(timer);
    timer = setTimeout(fire, idleMs);
  };
  const stop = (): void => {
    clearTimeout(timer);
    res.off('data', reset);
  };
  res.on('data', reset);
  res.once('end', stop);
  res.once('close', stop);
  reset();
  return stop;
}

export const idleError = (host: string, idleMs: number, what: string): AcihostError =>
  gatewayTimeout(
    'UPSTREAM_TIMEOUT',
    `${host} stopped sending ${what} for ${idleMs} ms; check that the registry at ${host} is healthy and its network path not congested, or raise the idle timeout`,
  );

/** A request or response failure as the typed error an operator can act on; typed errors and aborts pass through. */
export function describeFailure(error: unknown, host: string, conn: UpstreamConnection): unknown {
  if (error instanceof AcihostError) return error;
  const e = error as NodeJS.ErrnoException & { reason?: string };
  if (e.name === 'AbortError') return error;
  const code = e.code ?? '';
  // OpenSSL's messages run to file names and line numbers over several lines; the first says enough.
  const reason = /routines:[^:]*:([^:]+):/.exec(e.message)?.[1] ?? e.message.split('\n')[0]!.trim();
  const detail = `${code ? `${code}: ` : ''}${reason}`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return badGateway(
      'UPSTREAM_UNREACHABLE',
      `cannot resolve the upstream registry host ${host} (${detail}); check its name and this server's DNS`,
      error,
    );
  }
  if (code === 'ECONNREFUSED') {
    return badGateway(
      'UPSTREAM_UNREACHABLE',
      `${host} refused the connection (${detail}); check the port and that the registry runs there`,
      error,
    );
  }
  if (
    code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
    code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' ||
    /wrong version number|packet length too long/i.test(e.message)
  ) {
    return badGateway(
      'UPSTREAM_TLS_FAILED',
      `${host} does not speak TLS (${detail}); it may serve plain HTTP, which acihost uses only for a registry configured with insecureHttp (acihost convert: --insecure-http)`,
      error,
    );
  }
  if (isCertificateError(code)) {
    const fix = conn.insecureHttp ? '' : '; if it uses a private CA, configure that CA (PEM) for the registry';
    return badGateway(
      'UPSTREAM_TLS_FAILED',
      `the TLS certificate of ${host} is not trusted or does not name it (${detail}); check the host name${fix}`,
      error,
    );
  }
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || /\bSSL\b|\bTLS\b/.test(e.message)) {
    return badGateway(
      'UPSTREAM_TLS_FAILED',
      `the TLS handshake with ${host} failed (${detail}); check that ${host} serves HTTPS on that port`,
      error,
    );
  }
  return badGateway(
    'UPSTREAM_UNREACHABLE',
    `the connection to ${host} failed (${detail}); check that the registry at ${host} is reachable and healthy`,
    error,
  );
}

// OpenSSL's verification results, as Node names them (`tls.TLSSocket#authorizationError`).
const isCertificateError = (code: string): boolean =>
  code === 'ERR_TLS_CERT_ALTNAME_INVALID' ||
  /^(?:UNABLE_TO_|SELF_SIGNED_CERT|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_|INVALID_CA|PATH_LENGTH_EXCEEDED|INVALID_PURPOSE|HOSTNAME_MISMATCH)/.test(
    code,
  );

/** Reads a whole (small) body, failing past `max` bytes or when it stalls. */
export function readBody(
  res: IncomingMessage,
  max: number,
  tooLarge: () => AcihostError,
  host: string,
  conn: UpstreamConnection,
): Promise<Buffer> {
  const { idleMs } = conn.timeouts;
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const fail = (error: unknown): void => {
      stop();
      res.destroy();
      reject(error);
    };
    const stop = watchIdle(res, idleMs, () => fail(idleError(host, idleMs, 'its answer')));
    res.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > max) return fail(tooLarge());
      chunks.push(chunk);
    });
    res.once('error', (error) => fail(describeFailure(error, host, conn)));
    res.once('end', () => {
      stop();
      resolve(Buffer.concat(chunks));
    });
  });
}

/** Discards a body that is not wanted, so the socket can serve again. */
export const drain = (res: IncomingMessage): void => void res.resume().once('error', () => {});
