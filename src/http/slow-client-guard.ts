import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

interface Watched {
  req: IncomingMessage;
  res: ServerResponse;
  bytes: number;
  since: number;
}

// Checks run several times a window, so each request is judged after one full window of its own.
const CHECKS_PER_WINDOW = 4;

/**
 * True while a request waits on the server rather than on its client: the whole
 * request is in and its answer has not begun (the server is still working on it),
 * or the server has stopped reading the body (backpressure: a decoder busy with
 * what already arrived). Bytes stop moving then through no fault of the client.
 */
function serverHolds(req: IncomingMessage, res: ServerResponse): boolean {
  if (res.headersSent) return false;
  if (req.complete) return true;
  return req.readableFlowing === false || req.readableLength >= req.readableHighWaterMark;
}

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
 * Time the server holds a request (serverHolds) is never counted against its
 * client, by this check or by the idle timeout (`server.timeout`), which would
 * otherwise cut a small upload that takes the server long to decode before its
 * answer could be sent.
 *
 * Returns what watches one request; the caller skips requests answered at once
 * (answers from memory), which hold nothing but their connection, so that the
 * discovery answers pay nothing for it.
 */
export function guardSlowClients(
  server: Server,
  opts: { windowMs: number; minBytesPerSecond: number },
): (req: IncomingMessage, res: ServerResponse) => void {
  const busy = new Map<Socket, Watched>();
  const transferred = (s: Socket) => s.bytesRead + s.bytesWritten;

  // Replaces Node's own handling, which destroys every socket idle for server.timeout.
  server.on('timeout', (socket: Socket) => {
    const watched = busy.get(socket);
    if (watched && serverHolds(watched.req, watched.res)) socket.setTimeout(server.timeout);
    else socket.destroy();
  });

  if (opts.minBytesPerSecond > 0) {
    const floor = (opts.minBytesPerSecond * opts.windowMs) / 1000;
    const timer = setInterval(() => {
      const now = Date.now();
      for (const [socket, watched] of busy) {
        const bytes = transferred(socket);
        if (serverHolds(watched.req, watched.res)) {
          Object.assign(watched, { bytes, since: now });
          continue;
        }
        if (now - watched.since < opts.windowMs) continue;
        if (bytes - watched.bytes < floor) {
          busy.delete(socket);
          socket.destroy();
        } else Object.assign(watched, { bytes, since: now });
      }
    }, opts.windowMs / CHECKS_PER_WINDOW);
    timer.unref();
    server.once('close', () => clearInterval(timer));
  }

  return (req, res) => {
    const socket = req.socket;
    busy.set(socket, { req, res, bytes: transferred(socket), since: Date.now() });
    res.once('close', () => {
      if (busy.get(socket)?.res === res) busy.delete(socket);
    });
  };
}
