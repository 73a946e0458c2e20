/**
 * A real upstream registry for tests: Debian's distribution registry (2.8) on
 * 127.0.0.1, with its storage in a temporary directory and TLS from a CA made
 * at test time. Auth is none, basic (an htpasswd file) or token (a small HTTPS
 * token server here issues JWTs the registry verifies against its
 * `rootcertbundle`). Images go in with `skopeo copy` from OCI layouts.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomUUID, sign, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { request as httpRequestRaw, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequestRaw, type Server } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { createCertificateAuthority, issueServerCertificate } from '../../src/tls/issue.ts';
import { createTestCertificate } from './tls.ts';
import { tempDir } from './temp-dir.ts';

const run = promisify(execFile);

export type RegistryAuth = 'none' | 'basic' | 'token';

export interface UpstreamRegistryOptions {
  auth?: RegistryAuth;
  /** Serve plain HTTP instead of TLS. */
  plainHttp?: boolean;
  /** Token auth only: anonymous token requests get pull access (as public repositories on Docker Hub do). */
  anonymousPull?: boolean;
}

export interface Credentials {
  username: string;
  password: string;
}

/** A token the token server issued: whom to, for which scopes. */
export interface IssuedToken {
  username: string | undefined;
  scopes: string[];
}

export interface UpstreamRegistry {
  /** `127.0.0.1:PORT`, as an image reference names the registry. */
  host: string;
  /** PEM of the CA that signed the registry's (and the token server's) certificate, and its file. */
  caPem: string;
  caFile: string;
  /** A directory holding `ca.crt`, for skopeo's `--dest-cert-dir`. */
  certDir: string;
  /** The registry's filesystem storage root. */
  storageDir: string;
  plainHttp: boolean;
  auth: RegistryAuth;
  credentials?: Credentials;
  /** Token auth only: every token issued so far. */
  issuedTokens: IssuedToken[];
  /** Where blob `digest` lies in the storage directory. */
  blobPath(digest: string): string;
  /** The registry's log so far. */
  logs(): Promise<string>;
  /** One request to the registry's API, authenticated as the fixture's user for `repository` (all actions). */
  api(method: string, path: string, opts?: { headers?: OutgoingHttpHeaders; body?: Buffer; repository?: string }): Promise<ApiResponse>;
  stop(): Promise<void>;
}

export interface ApiResponse {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

const SERVICE = 'upstream-test-registry';
const ISSUER = 'upstream-test-issuer';
const READY_WITHIN_MS = 20_000;

/** Starts a registry; it is stopped by `stop()` (call it in `after`). */
export async function startUpstreamRegistry(opts: UpstreamRegistryOptions = {}): Promise<UpstreamRegistry> {
  const auth = opts.auth ?? 'none';
  const plainHttp = opts.plainHttp ?? false;
  const dir = await tempDir('upstream-registry-');
  const storageDir = join(dir, 'storage');
  const certDir = join(dir, 'certs');
  await mkdir(storageDir);
  await mkdir(certDir);
  const tls = await createTestCertificate(['127.0.0.1', 'localhost']);
  const caFile = join(certDir, 'ca.crt');
  await writeFile(caFile, tls.caPem);
  await writeFile(join(dir, 'server.pem'), tls.certPem);
  await writeFile(join(dir, 'server-key.pem'), tls.keyPem, { mode: 0o600 });

  const credentials = auth === 'none' ? undefined : { username: 'puller', password: randomBytes(9).toString('base64url') };
  const issuedTokens: IssuedToken[] = [];
  let tokenServer: TokenServer | undefined;
  let authYaml = '';
  if (auth === 'basic') {
    const { stdout } = await run('htpasswd', ['-Bbn', credentials!.username, credentials!.password]);
    await writeFile(join(dir, 'htpasswd'), stdout);
    authYaml = `auth:\n  htpasswd:\n    realm: ${SERVICE}\n    path: ${join(dir, 'htpasswd')}\n`;
  } else if (auth === 'token') {
    tokenServer = await startTokenServer(tls, credentials!, issuedTokens, opts.anonymousPull ?? false);
    await writeFile(join(dir, 'token-ca.pem'), tokenServer.rootPem);
    authYaml = [
      'auth:',
      '  token:',
      `    realm: https://127.0.0.1:${tokenServer.port}/token`,
      `    service: ${SERVICE}`,
      `    issuer: ${ISSUER}`,
      `    rootcertbundle: ${join(dir, 'token-ca.pem')}`,
      '',
    ].join('\n');
  }

  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const tlsYaml = plainHttp ? '' : `  tls:\n    certificate: ${join(dir, 'server.pem')}\n    key: ${join(dir, 'server-key.pem')}\n`;
  const config = [
    'version: 0.1',
    'log:',
    '  level: info',
    '  accesslog:',
    '    disabled: false',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storageDir}`,
    '  delete:',
    '    enabled: true',
    '  redirect:',
    '    disable: true',
    'http:',
    `  addr: ${host}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
    tlsYaml + authYaml,
  ].join('\n');
  const configFile = join(dir, 'config.yml');
  await writeFile(configFile, config);

  const logFile = join(dir, 'registry.log');
  const logFd = openSync(logFile, 'a');
  const child = spawn('/usr/bin/docker-registry', ['serve', configFile], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  const exited = once(child, 'exit');
  const logs = (): Promise<string> => readFile(logFile, 'utf8').catch(() => '');

  const api: UpstreamRegistry['api'] = async (method, path, apiOpts = {}) => {
    const headers: OutgoingHttpHeaders = { ...apiOpts.headers };
    if (auth === 'basic') headers.authorization = basicHeader(credentials!);
    if (auth === 'token') {
      const repository = apiOpts.repository ?? /^\/v2\/(.+?)\/(?:manifests|blobs|tags)\//.exec(path)?.[1];
      const scopes = repository === undefined ? [] : [`repository:${repository}:pull,push,delete`];
      headers.authorization = `Bearer ${tokenServer!.mint(credentials!.username, scopes)}`;
    }
    return sendRequest(`${plainHttp ? 'http' : 'https'}://${host}${path}`, { method, headers, body: apiOpts.body, ca: tls.caPem });
  };

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000).then(() => child.kill('SIGKILL'))]);
    }
    await tokenServer?.close();
  };

  try {
    await waitReady(child, host, plainHttp, tls.caPem);
  } catch (error) {
    await stop();
    throw new Error(`the registry did not start: ${(error as Error).message}\n--- registry log ---\n${await logs()}`);
  }

  return {
    host,
    caPem: tls.caPem,
    caFile,
    certDir,
    storageDir,
    plainHttp,
    auth,
    ...(credentials === undefined ? {} : { credentials }),
    issuedTokens,
    blobPath: (digest) => {
      const hex = digest.replace(/^sha256:/, '');
      return join(storageDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    },
    logs,
    api,
    stop,
  };
}

/** Pushes image `tag` of the OCI layout at `layoutDir` to `repoTag` (`REPO:TAG` or `REPO@sha256:...`); resolves to the manifest digest. */
export async function pushLayout(
  registry: UpstreamRegistry,
  layoutDir: string,
  tag: string,
  repoTag: string,
  opts: { format: 'v2s2' | 'oci' },
): Promise<string> {
  const digestFile = join(await tempDir('upstream-push-'), 'digest');
  const args = ['copy', '--insecure-policy', '--quiet', '--format', opts.format, '--digestfile', digestFile];
  if (registry.plainHttp) args.push('--dest-tls-verify=false');
  else args.push('--dest-cert-dir', registry.certDir);
  if (registry.credentials) args.push('--dest-creds', `${registry.credentials.username}:${registry.credentials.password}`);
  args.push(`oci:${layoutDir}:${tag}`, `docker://${registry.host}/${repoTag}`);
  try {
    await run('skopeo', args, { env: { ...process.env, HOME: join(digestFile, '..'), XDG_RUNTIME_DIR: join(digestFile, '..') } });
  } catch (error) {
    throw new Error(
      `skopeo copy to ${repoTag} failed: ${(error as { stderr?: string }).stderr ?? String(error)}\n--- registry log ---\n${await registry.logs()}`,
    );
  }
  return (await readFile(digestFile, 'utf8')).trim();
}

export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

export interface PlatformImage {
  layoutDir: string;
  tag: string;
  platform: { os: string; architecture: string; variant?: string };
}

/**
 * Puts a multi-platform image at `repository:tag`: each platform's manifest is
 * pushed by digest, then an index naming them (an OCI index, or a Docker
 * manifest list for v2s2 manifests) is PUT. Resolves to the index's digest and bytes.
 */
export async function pushIndex(
  registry: UpstreamRegistry,
  repository: string,
  tag: string,
  images: PlatformImage[],
  opts: { format: 'v2s2' | 'oci' },
): Promise<{ digest: string; bytes: Buffer; manifests: { digest: string; size: number }[] }> {
  const manifests: { mediaType: string; digest: string; size: number; platform: PlatformImage['platform'] }[] = [];
  for (const image of images) {
    // A scratch tag first: skopeo learns the digest only once it has converted the manifest.
    const scratch = `${tag}-${image.platform.architecture}${image.platform.variant ?? ''}`;
    const digest = await pushLayout(registry, image.layoutDir, image.tag, `${repository}:${scratch}`, opts);
    const res = await registry.api('GET', `/v2/${repository}/manifests/${digest}`, {
      headers: { accept: opts.format === 'oci' ? OCI_MANIFEST : DOCKER_MANIFEST },
    });
    if (res.status !== 200) throw new Error(`manifest ${digest} is not in ${repository}: ${res.status}`);
    manifests.push({
      mediaType: opts.format === 'oci' ? OCI_MANIFEST : DOCKER_MANIFEST,
      digest,
      size: res.body.length,
      platform: image.platform,
    });
  }
  const mediaType = opts.format === 'oci' ? OCI_INDEX : DOCKER_LIST;
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests }, null, 2));
  const res = await registry.api('PUT', `/v2/${repository}/manifests/${tag}`, { headers: { 'content-type': mediaType }, body: bytes });
  if (res.status !== 201) throw new Error(`PUT of the index failed: ${res.status} ${res.body.toString()}\n${await registry.logs()}`);
  return { digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, bytes, manifests };
}

/**
 * A small OCI layout image built with umoci: `files` (path → content) in one
 * layer, for `platform`, with `config` set through `umoci config` options.
 */
export async function buildSmallImage(opts: {
  files: Record<string, string>;
  tag?: string;
  platform?: PlatformImage['platform'];
  entrypoint?: string[];
  env?: string[];
  user?: string;
}): Promise<{ layoutDir: string; tag: string }> {
  const dir = await tempDir('upstream-image-');
  const layoutDir = join(dir, 'layout');
  const tag = opts.tag ?? 'latest';
  const image = `${layoutDir}:${tag}`;
  await run('umoci', ['init', '--layout', layoutDir]);
  await run('umoci', ['new', '--image', image]);
  const root = join(dir, 'root');
  for (const [path, content] of Object.entries(opts.files)) {
    const file = join(root, path);
    await mkdir(join(file, '..'), { recursive: true });
    await writeFile(file, content);
  }
  await run('umoci', ['insert', '--rootless', '--image', image, root, '/']);
  const platform = opts.platform ?? { os: 'linux', architecture: 'amd64' };
  const args = ['config', '--image', image, '--os', platform.os, '--architecture', platform.architecture];
  for (const e of opts.entrypoint ?? []) args.push('--config.entrypoint', e);
  for (const e of opts.env ?? []) args.push('--config.env', e);
  if (opts.user !== undefined) args.push('--config.user', opts.user);
  await run('umoci', args);
  if (platform.variant !== undefined) await setVariant(layoutDir, tag, platform.variant);
  return { layoutDir, tag };
}

// umoci 0.4 has no option for the variant; write it into the config, and re-point the manifest and index.
async function setVariant(layoutDir: string, tag: string, variant: string): Promise<void> {
  const blob = (digest: string): string => join(layoutDir, 'blobs/sha256', digest.replace('sha256:', ''));
  const put = async (json: unknown): Promise<{ digest: string; size: number }> => {
    const bytes = Buffer.from(JSON.stringify(json));
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    await writeFile(blob(digest), bytes);
    return { digest, size: bytes.length };
  };
  const index = JSON.parse(await readFile(join(layoutDir, 'index.json'), 'utf8')) as {
    manifests: { digest: string; size: number; annotations?: Record<string, string> }[];
  };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag)!;
  const manifest = JSON.parse(await readFile(blob(entry.digest), 'utf8')) as { config: { digest: string; size: number } };
  const config = JSON.parse(await readFile(blob(manifest.config.digest), 'utf8')) as Record<string, unknown>;
  manifest.config = { ...manifest.config, ...(await put({ ...config, variant })) };
  Object.assign(entry, await put(manifest));
  await writeFile(join(layoutDir, 'index.json'), JSON.stringify(index));
}

// --- token server ---------------------------------------------------------------------------

interface TokenServer {
  port: number;
  /** PEM of the CA the registry trusts for tokens. */
  rootPem: string;
  mint(username: string | undefined, scopes: string[]): string;
  close(): Promise<void>;
}

async function startTokenServer(
  tls: { certPem: string; keyPem: string },
  credentials: Credentials,
  issued: IssuedToken[],
  anonymousPull: boolean,
): Promise<TokenServer> {
  // The signing key's certificate travels in the JWT header (`x5c`); the registry
  // verifies that chain against its `rootcertbundle`, which holds the CA alone.
  const ca = await createCertificateAuthority();
  const signer = await issueServerCertificate(ca, ['token-signer.test']);
  const x5c = [signer.certPem, ca.certPem].map((pem) => new X509Certificate(pem).raw.toString('base64'));

  const mint = (username: string | undefined, scopes: string[], anonymous = false): string => {
    const now = Math.floor(Date.now() / 1000);
    const access = scopes.flatMap((scope) => {
      const [type, name, actions] = parseScope(scope);
      if (type !== 'repository' || name === undefined) return [];
      const granted = anonymous ? (anonymousPull ? actions.filter((a) => a === 'pull') : []) : actions;
      return granted.length ? [{ type, name, actions: granted }] : [];
    });
    const header = { typ: 'JWT', alg: 'ES256', x5c };
    const claims = { iss: ISSUER, sub: username ?? '', aud: SERVICE, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(input), { key: signer.keyPem, dsaEncoding: 'ieee-p1363' });
    return `${input}.${signature.toString('base64url')}`;
  };

  const server: Server = createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://token.test');
    const scopes = url.searchParams
      .getAll('scope')
      .flatMap((s) => s.split(' '))
      .filter(Boolean);
    const given = req.headers.authorization;
    let username: string | undefined;
    if (given !== undefined) {
      if (given !== basicHeader(credentials)) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"wrong credentials"}');
        return;
      }
      username = credentials.username;
    }
    if (url.pathname !== '/token' || url.searchParams.get('service') !== SERVICE) {
      res.writeHead(400).end();
      return;
    }
    issued.push({ username, scopes });
    const token = mint(username, scopes, username === undefined);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    rootPem: ca.certPem,
    mint: (username, scopes) => mint(username, scopes),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `repository:library/alpine:pull,push` → ['repository', 'library/alpine', ['pull', 'push']]; the name may hold a port's colon. */
function parseScope(scope: string): [string, string | undefined, string[]] {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first === -1 || last === first) return [scope, undefined, []];
  return [
    scope.slice(0, first),
    scope.slice(first + 1, last),
    scope
      .slice(last + 1)
      .split(',')
      .filter(Boolean),
  ];
}

const b64url = (text: string): string => Buffer.from(text).toString('base64url');
const basicHeader = (c: Credentials): string => `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;

// --- plumbing -------------------------------------------------------------------------------

async function freePort(): Promise<number> {
  const server = createNetServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitReady(child: ChildProcess, host: string, plainHttp: boolean, caPem: string): Promise<void> {
  const deadline = Date.now() + READY_WITHIN_MS;
  let last: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`it exited (${child.exitCode ?? child.signalCode})`);
    try {
      // 401 means ready too: the registry answers /v2/ once it serves.
      const res = await sendRequest(`${plainHttp ? 'http' : 'https'}://${host}/v2/`, { method: 'GET', headers: {}, ca: caPem });
      if (res.status === 200 || res.status === 401) return;
      last = new Error(`GET /v2/ answered ${res.status}`);
    } catch (error) {
      last = error;
    }
    await sleep(50);
  }
  throw new Error(`no answer on ${host} within ${READY_WITHIN_MS} ms: ${String(last)}`);
}

function sendRequest(
  url: string,
  opts: { method: string; headers: OutgoingHttpHeaders; body?: Buffer | undefined; ca: string },
): Promise<ApiResponse> {
  const headers = { ...opts.headers };
  if (opts.body !== undefined) headers['content-length'] = opts.body.length;
  const send = url.startsWith('https:') ? httpsRequestRaw : httpRequestRaw;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: opts.method, headers, ca: opts.ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${opts.method} ${url} timed out`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}
