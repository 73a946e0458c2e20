import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';

/**
 * The client's address as Fastify's `request.ip` reports it, for requests answered
 * outside Fastify: the socket's peer, or with trusted proxies (server.trustProxy)
 * the nearest address in X-Forwarded-For that is not one of them.
 */
export function clientAddressOf(trustProxy: string[] | false): (request: IncomingMessage) => string {
  if (!trustProxy) return (request) => request.socket.remoteAddress ?? '';
  const trusted = proxyAddr.compile(trustProxy);
  return (request) => proxyAddr(request, trusted);
}
