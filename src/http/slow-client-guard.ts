import type { Server } from 'node:http';
import type { Socket } from 'node:net';

interface Watched {
  bytes: number;
}

/**
 * Closes connections whose request or response crawls: a client that sends an
 * upload or reads a download a few bytes at a time keeps its socket "active" for
 * the idle timeout, and holds a file handle and staging space for as long as it
 * likes. Every window, a socket with a request in flight that moved fewer than
 * `minBytesPerSecond` × window bytes (read plus written) is destroyed; its request
 * fails like any aborted upload or download, and nothing partial is kept.
 */
export function guardSlowClients(server: Server, opts: { windowMs: number; minBytesPerSecond: number }): void {
  if (opts.minBytesPerSecond <= 0) return;
  const busy = new Map<Socket, Watched>();
  const transferred = (s: Socket) => s.bytesRead + s.bytesWritten;
  server.on('request', (req, res) => {
    const socket = req.socket;
    busy.set(socket, { bytes: transferred(socket) });
    res.once('close', () => busy.delete(socket));
  });
  const floor = (opts.minBytesPerSecond * opts.windowMs) / 1000;
  const timer = setInterval(() => {
    for (const [socket, watched] of busy) {
      const now = transferred(socket);
      if (now - watched.bytes < floor) {
        busy.delete(socket);
        socket.destroy();
      } else watched.bytes = now;
    }
  }, opts.windowMs);
  timer.unref();
  server.once('close', () => clearInterval(timer));
}
