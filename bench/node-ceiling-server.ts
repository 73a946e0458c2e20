/**
 * The Node ceiling: a bare node:https server that answers every request with one
 * response taken from acihost (its body and headers, from a file), with nothing
 * else per request: no routing, access line or metrics. With `--access-line` it
 * also does what acihost must do for every request and nothing more: acihost's own
 * access line (src/http/access-log.ts, on standard output) and request metrics.
 * Started by bench/node-ceiling.ts, pinned and launched as acihost is.
 *
 *   node bench/node-ceiling-server.ts PORT CERT KEY ANSWER.json [--access-line]
 */
import { readFileSync } from 'node:fs';
import { createServer, type ServerOptions } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Registry } from 'prom-client';
import { AccessLog } from '../src/http/access-log.ts';
import { createLogger } from '../src/logger.ts';
import { RequestMetrics } from '../src/ops/metrics/request-metrics.ts';

const [port, cert, key, answerFile, mode] = process.argv.slice(2);
const answer = JSON.parse(readFileSync(answerFile!, 'utf8')) as { path: string; headers: Record<string, string>; body: string };
const body = Buffer.from(answer.body, 'base64');
const tls: ServerOptions = { cert: readFileSync(cert!), key: readFileSync(key!) };

function bare(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, answer.headers);
  res.end(body);
}

function logged(): (req: IncomingMessage, res: ServerResponse) => void {
  const log = new AccessLog(new RequestMetrics(new Registry()), createLogger('info'));
  const kind = log.kind('GET', '/*', answer.path, 200);
  let id = 0;
  return (req, res) => {
    const started = performance.now();
    bare(req, res);
    id = (id + 1) & 0x7fffffff;
    log.record(kind, {
      reqId: `req-${id.toString(36)}`,
      ms: performance.now() - started,
      socket: req.socket,
      tokenId: null,
      ip: req.socket.remoteAddress,
    });
  };
}

const server = createServer(tls, mode === '--access-line' ? logged() : bare);
// On standard error: standard output carries the access lines.
server.listen(Number(port), '127.0.0.1', () => process.stderr.write('listening\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)).closeAllConnections());
