/**
 * The HTTP application in this process with no listener: a started Registry over
 * a real filesystem store in a temporary directory, and buildApp, for
 * `app.inject()`. Route rules are checked here in milliseconds; what needs a
 * socket, TLS or a child process uses test/helpers/server.ts.
 *
 * Without a listener there is no server factory, so answers kept in memory
 * (src/http/memory-answers.ts) are stored but never served: every request
 * reaches its route.
 */
import { rm } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import * as openpgp from 'openpgp';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/logger.ts';
import { Registry, registrySettings, type RegistryHooks } from '../../src/registry/registry.ts';
import type { Scope } from '../../src/registry/access/tokens.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { FsStorage } from '../../src/storage/fs-storage.ts';
import { CheckedStorage } from '../../src/storage/checked-storage.ts';
import { buildAci, type BuildAciOptions } from './aci-builder.ts';
import { serverSetup } from './server.ts';

export interface PublishedImage {
  aci: Buffer;
  /** What POST /-/push answered. */
  status: number;
  body: any;
}

export interface TestApp {
  app: FastifyInstance;
  registry: Registry;
  /** The storage the registry works on (tests watch its calls). */
  storage: Storage;
  dir: string;
  storageDir: string;
  /** The public origin (https://localhost:PORT); the image domain is `localhost`. */
  origin: string;
  /** A fresh token with `scopes` for `prefixes` (the whole domain by default). */
  token(scopes: Scope[], prefixes?: string[]): Promise<string>;
  /**
   * Builds an image (or takes its bytes), signs it with the trusted key, and pushes it through
   * POST /-/push (with a push token for `localhost` unless given one).
   */
  publish(build: BuildAciOptions | Buffer, token?: string): Promise<PublishedImage>;
  /** The fingerprint of the trusted signing key (made at test time by openpgp, no gpg). */
  fingerprint: string;
  close(): Promise<void>;
}

/** A multipart/form-data body of file parts, in the order given, as curl -F sends them. */
function multipartBody(parts: [name: string, body: Buffer | string][]): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----acihost${Math.random().toString(16).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const [name, body] of parts) {
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${name}"\r\n` +
          'Content-Type: application/octet-stream\r\n\r\n',
      ),
      Buffer.from(body),
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

/**
 * Builds the app over a fresh store with one signing key trusted for the prefixes
 * in `trust` (all of `localhost` by default). `config` is the config file's content;
 * failed authentications are not limited unless it says so, since refusals are what
 * these tests send. `hooks` are lent to the registry as the server lends its own.
 */
export async function buildTestApp(
  opts: { config?: Record<string, unknown>; env?: Record<string, string>; trust?: string[]; hooks?: RegistryHooks } = {},
): Promise<TestApp> {
  const setup = await serverSetup({
    config: { rateLimit: { failedAuthAttempts: 1_000_000 }, ...opts.config },
    env: { ACIHOST_LOG_LEVEL: 'silent', ...opts.env },
  });
  const config = loadConfig({ env: setup.env, file: setup.configFile });
  const logger = createLogger(config.log.level);
  // As createStorage makes it for the fs backend.
  const storage = new CheckedStorage(new FsStorage(setup.storageDir));
  const registry = new Registry(storage, registrySettings(config), logger, opts.hooks);
  // ECDSA P-256: accepted by the key policy, and made in milliseconds.
  const key = await openpgp.generateKey({
    type: 'ecc',
    curve: 'nistP256',
    userIDs: [{ name: 'ci', email: 'ci@localhost' }],
    format: 'object',
  });
  for (const prefix of opts.trust ?? ['localhost']) await registry.keys.add(prefix, key.publicKey.armor());
  await registry.start();
  const app = await buildApp({ registry, settings: config, logger });
  await app.ready();
  const pushToken = (await registry.tokens.create({ prefixes: ['localhost'], scopes: ['push'], name: 'publish', expiresInSeconds: null }))
    .token;
  return {
    app,
    registry,
    storage,
    dir: setup.dir,
    storageDir: setup.storageDir,
    origin: setup.origin,
    fingerprint: key.publicKey.getFingerprint(),
    token: async (scopes, prefixes = ['localhost']) =>
      (await registry.tokens.create({ prefixes, scopes, name: 'test', expiresInSeconds: null })).token,
    async publish(build, token = pushToken) {
      const aci = Buffer.isBuffer(build) ? build : await buildAci(build);
      const signature = (await openpgp.sign({
        message: await openpgp.createMessage({ binary: aci }),
        signingKeys: key.privateKey,
        detached: true,
        format: 'armored',
      })) as string;
      const { payload, headers } = multipartBody([
        ['asc', signature],
        ['aci', aci],
      ]);
      const res = await app.inject({ method: 'POST', url: '/-/push', payload, headers: { ...headers, authorization: `Bearer ${token}` } });
      return { aci, status: res.statusCode, body: res.json() };
    },
    async close() {
      await app.close();
      await registry.close();
      await rm(setup.dir, { recursive: true, force: true });
    },
  };
}
