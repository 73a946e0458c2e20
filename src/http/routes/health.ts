/**
 * `GET /-/health/live` (the process answers) and `GET /-/health/ready` (it
 * should get traffic: configuration loaded, storage reachable, a valid
 * certificate served, no shutdown under way). JSON, never cached, no token:
 * load balancers and orchestrators call them.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ServerState } from '../../ops/lifecycle/server-state.ts';
import type { Registry } from '../../registry/registry.ts';
import { errorResponses, security } from '../api/schemas.ts';

const STORAGE_CHECK_TIMEOUT_MS = 2000;

type Check = 'ok' | 'failing' | 'missing' | 'expired' | 'off' | 'shutting-down';

const CHECKS = ['config', 'storage', 'certificate', 'lifecycle'] as const;
const checkSchema = { type: 'string', enum: ['ok', 'failing', 'missing', 'expired', 'off', 'shutting-down'] };

const liveSchema = {
  operationId: 'getLive',
  summary: 'Whether the process answers',
  security: security.public,
  response: {
    200: { description: 'Live', type: 'object', required: ['status'], properties: { status: { type: 'string', const: 'live' } } },
    ...errorResponses(429),
  },
};

const readiness = (status: string) => ({
  type: 'object',
  required: ['status', 'checks'],
  properties: {
    status: { type: 'string', const: status },
    checks: {
      type: 'object',
      required: CHECKS,
      properties: Object.fromEntries(CHECKS.map((c) => [c, checkSchema])),
    },
  },
});

const readySchema = {
  operationId: 'getReady',
  summary: 'Whether the server should get traffic: configuration, storage, certificate, no shutdown',
  security: security.public,
  response: {
    200: { description: 'Ready: every check is ok (or off)', ...readiness('ready') },
    503: { description: 'Not ready: the checks say which part fails', ...readiness('not-ready') },
    ...errorResponses(429),
  },
};

const noCache = (reply: FastifyReply) => reply.header('cache-control', 'no-store');

export async function healthRoutes(app: FastifyInstance, opts: { registry: Registry; state: ServerState }): Promise<void> {
  const { registry, state } = opts;

  app.get('/-/health/live', { schema: liveSchema }, async (_request, reply) => noCache(reply).send({ status: 'live' }));

  app.get('/-/health/ready', { schema: readySchema }, async (_request, reply) => {
    const checks: Record<string, Check> = {
      config: 'ok',
      storage: (await registry.storeReachable(STORAGE_CHECK_TIMEOUT_MS)) ? 'ok' : 'failing',
      certificate: certificateCheck(state),
      lifecycle: state.shuttingDown ? 'shutting-down' : 'ok',
    };
    const ready = Object.values(checks).every((c) => c === 'ok' || c === 'off');
    return noCache(reply)
      .status(ready ? 200 : 503)
      .send({ status: ready ? 'ready' : 'not-ready', checks });
  });
}

function certificateCheck(state: ServerState): Check {
  if (!state.certificate) return 'off';
  if (state.certificate.valid()) return 'ok';
  return state.certificate.get()?.source === 'placeholder' || !state.certificate.get() ? 'missing' : 'expired';
}
