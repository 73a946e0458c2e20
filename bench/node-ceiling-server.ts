/**
 * The Node ceiling: a bare node:https server that answers every request with one
 * response taken from acihost (its body and headers, from a file), with nothing
 * else per request: no routing, access line or metrics. Started by
 * bench/node-ceiling.ts, pinned and launched as acihost is.
 *
 *   node bench/node-ceiling-server.ts PORT CERT KEY ANSWER.json
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';

const [port, cert, key, answerFile] = process.argv.slice(2);
const answer = JSON.parse(readFileSync(answerFile!, 'utf8')) as { headers: Record<string, string>; body: string };
const body = Buffer.from(answer.body, 'base64');
const server = createServer({ cert: readFileSync(cert!), key: readFileSync(key!) }, (_req, res) => {
  res.writeHead(200, answer.headers);
  res.end(body);
});
server.listen(Number(port), '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)).closeAllConnections());
