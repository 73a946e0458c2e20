import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

interface Watched {
  bytes: number;
  since: number;
}

// Checks run several times a window, so each request is judged after one full window of its own.
const CHECKS_PER_WINDOW = 4;

/**
 * Closes connections whose request or response crawls: a client that sends an
 * upload or reads a download a few bytes at a time keeps its socket "active" for
 * the idle timeout, and holds a file handle and staging space for as long as it
 * likes. A socket with a request in flight that moved fewer than
 * `minBytesPerSecond` × window bytes (read plus written) over a whole window of
 * that request is destroyed; its request fails like any aborted upload or
 * download, and nothing partial is kept. A request is never judged on less than a
 * full window: one that began just before a check would otherwise look stalled.
 *
 * Returns what watches one request (nothing when the floor is off); the caller
 * skips requests answered at once (answers from memory), which hold nothing but
 * their connection, so that the discovery answers pay nothing for it.
 */
export function guardSlowClients(
  server: Server,
  opts: { windowMs: number; minBytesPerSecond: number },
): ((req: IncomingMessage, res: ServerResponse) => void) | undefined {
  if (opts.minBytesPerSecond <= 0) return undefined;
  const busy = new Map<Socket, Watched>();
  const transferred = (s: Socket) => s.bytesRead + s.bytesWritten;
  const floor = (opts.minBytesPerSecond * opts.windowMs) / 1000;
  const timer = setInterval(() => {
    const now = Date.now();
    for (const [socket, watched] of busy) {
      if (now - watched.since < opts.windowMs) continue;
      const bytes = transferred(socket);
      if (bytes - watched.bytes < floor) {
        busy.delete(socket);
        socket.destroy();
      } else Object.assign(watched, { bytes, since: now });
    }
  }, opts.windowMs / CHECKS_PER_WINDOW);
  timer.unref();
  server.once('close', () => clearInterval(timer));
  return (req, res) => {
    const socket = req.socket;
    busy.set(socket, { bytes: transferred(socket), since: Date.now() });
    res.once('close', () => busy.delete(socket));
  };
}
