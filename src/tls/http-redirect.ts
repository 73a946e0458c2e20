/**
 * The small plain-HTTP listener (port 80 by default, opened when ACME is on or
 * server.httpPort is set): it answers ACME HTTP-01 challenges and redirects
 * everything else to the same path on the public HTTPS origin. It never serves
 * content, so nothing leaves the server unencrypted.
 */
import { createServer, type Server } from 'node:http';
import type { AcmeChallenges } from './acme-challenges.ts';

export function createRedirectServer(publicOrigin: string, challenges: AcmeChallenges): Server {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').startsWith('/') ? (req.url ?? '/') : '/';
    if (challenges.isHttp01Path(path.split('?')[0]!)) {
      const answer = challenges.http01Answer(path.split('?')[0]!);
      res.writeHead(answer === undefined ? 404 : 200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
      res.end(answer ?? 'no such ACME challenge\n');
      return;
    }
    // 301 keeps GET a GET for old clients; 308 keeps the method and body of anything else.
    const status = req.method === 'GET' || req.method === 'HEAD' ? 301 : 308;
    res.writeHead(status, { location: publicOrigin + path, 'content-type': 'text/plain', connection: 'close' });
    res.end(`moved to ${publicOrigin}${path}\n`);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  return server;
}
