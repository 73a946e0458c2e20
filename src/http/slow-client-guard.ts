import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';

interface Watched {
  /** The connection's latest response: undefined before its first request. */
  latest: ServerResponse | undefined;
  /** The response the current window measures, and the bytes and time it began with. */
  judged: ServerResponse | undefined;
  bytes: number;
  since: number;
}

// Checks run several times a window, so each request is judged after one full window of its own.
const CHECKS_PER_WINDOW = 4;

/**
 * Closes connections whose request or response stalls or crawls, and
 * connections that never send a request. A client that sends an upload or reads
 * a download a few bytes at a time keeps its socket "active", and holds a file
 * handle and staging space for as long as it likes; one that connects and stays
 * silent holds a socket. A connection with a request in flight that moved fewer
 * than `minBytesPerSecond` × window bytes (read plus written; at least one byte,
 * so with the floor at 0 this is the idle timeout) over a whole window of that
 * request is destroyed, and so is a new connection that moved nothing over a
 * window. Its request fails like any aborted upload or download, and nothing
 * partial is kept. Between requests, the keep-alive timeout applies.
 *
 * One periodic check does what a socket timeout would, without a timer refreshed
 * on every read and write of every connection: at tens of thousands of small
 * answers a second those refreshes cost more than the check (bench/). A request is
 * never judged on less than a full window: one that began just before a check
 * would otherwise look stalled.
 */
export function guardSlowClients(server: Server, opts: { windowMs: number; minBytesPerSecond: number }): void {
  const open = new Map<Socket, Watched>();
  const transferred = (s: Socket) => s.bytesRead + s.bytesWritten;
  // The HTTP layer's socket: with TLS, the one that exists once the handshake is done.
  server.on(server instanceof TlsServer ? 'secureConnection' : 'connection', (socket: Socket) => {
    open.set(socket, { latest: undefined, judged: undefined, bytes: transferred(socket), since: Date.now() });
    socket.once('close', () => open.delete(socket));
  });
  server.on('request', (req, res) => {
    const watched = open.get(req.socket);
    if (watched) watched.latest = res;
  });
  const floor = Math.max(1, (opts.minBytesPerSecond * opts.windowMs) / 1000);
  const timer = setInterval(() => {
    const now = Date.now();
    for (const [socket, watched] of open) {
      const res = watched.latest;
      // Answered and waiting for the next request: the keep-alive timeout's business.
      if (res?.writableFinished) continue;
      const bytes = transferred(socket);
      if (watched.judged !== res) {
        Object.assign(watched, { judged: res, bytes, since: now });
        continue;
      }
      if (now - watched.since < opts.windowMs) continue;
      if (bytes - watched.bytes < floor) {
        open.delete(socket);
        socket.destroy();
      } else Object.assign(watched, { bytes, since: now });
    }
  }, opts.windowMs / CHECKS_PER_WINDOW);
  timer.unref();
  server.once('close', () => clearInterval(timer));
}
