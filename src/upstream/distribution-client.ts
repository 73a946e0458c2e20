/**
 * A client of one repository of an upstream registry, on the distribution API
 * (https://distribution.github.io/distribution/spec/api/): manifests and blobs,
 * read only. It answers 401s as the registry asks: a Bearer token from the
 * registry's token service (cached per scope until it expires), or Basic
 * credentials. Everything it returns is checked against its digest.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { AcihostError, badGateway, invalid, notFound } from '../errors.ts';
import type { Descriptor, FetchedManifest, ImageSource } from '../convert/image-source.ts';
import { DigestCheck } from './digest-check.ts';
import { DIGEST_PATTERN } from './manifest-document.ts';
import { bareMediaType, DOCKER_SCHEMA1, MANIFEST_ACCEPT } from './media-types.ts';
import {
  describeFailure,
  drain,
  idleError,
  readBody,
  send,
  UpstreamAgents,
  watchIdle,
  type UpstreamConnection,
  type UpstreamTimeouts,
} from './upstream-http.ts';
import { parseWwwAuthenticate, type Challenge } from './www-authenticate.ts';

export interface UpstreamCredentials {
  username: string;
  password: string;
}

export interface DistributionClientOptions {
  /** `host[:port]`; `docker.io` is served from registry-1.docker.io. */
  registry: string;
  repository: string;
  /** PEM of a CA to trust besides the system roots. */
  ca?: string;
  /** Speak plain HTTP to the registry: for a registry on a trusted network only. */
  insecureHttp?: boolean;
  credentials?: UpstreamCredentials;
  /** Where the operator sets the credentials, for messages, e.g. `upstream.registries["r.example.com"].credentials`. */
  credentialsSetting?: string;
  timeouts: UpstreamTimeouts;
  maxManifestBytes: number;
  userAgent: string;
}

const MAX_REDIRECTS = 5;
const MAX_TOKEN_RESPONSE_BYTES = 1 << 20;
// Tokens that say nothing of their lifetime live 60 s (the token spec's default).
const DEFAULT_TOKEN_SECONDS = 60;
// A token is not sent in its last seconds, which the trip to the registry may use up.
const TOKEN_MARGIN_MS = 10_000;

interface CachedToken {
  header: string;
  expiresAt: number;
}

export class DistributionClient implements ImageSource {
  readonly registry: string;
  readonly repository: string;
  readonly #base: string;
  readonly #conn: UpstreamConnection;
  readonly #agents: UpstreamAgents;
  readonly #credentials: UpstreamCredentials | undefined;
  readonly #credentialsSetting: string;
  readonly #maxManifestBytes: number;
  readonly #tokens = new Map<string, CachedToken>();
  /** Where each response came from, after redirects: its host is what messages name. */
  readonly #origins = new WeakMap<IncomingMessage, URL>();
  /** Set once the registry has asked for Basic credentials: they go with every request after. */
  #basic: string | undefined;

  constructor(opts: DistributionClientOptions) {
    this.registry = opts.registry;
    this.repository = opts.repository;
    const insecureHttp = opts.insecureHttp ?? false;
    const apiHost = opts.registry === 'docker.io' ? 'registry-1.docker.io' : opts.registry;
    this.#base = `${insecureHttp ? 'http' : 'https'}://${apiHost}/v2/${opts.repository}`;
    this.#conn = { registry: opts.registry, insecureHttp, timeouts: opts.timeouts, userAgent: opts.userAgent };
    this.#agents = new UpstreamAgents(opts.ca);
    this.#credentials = opts.credentials;
    this.#credentialsSetting = opts.credentialsSetting ?? `the credentials configured for ${opts.registry}`;
    this.#maxManifestBytes = opts.maxManifestBytes;
  }

  async manifest(reference: string, signal?: AbortSignal): Promise<FetchedManifest> {
    const byDigest = reference.startsWith('sha256:');
    const what = byDigest ? `manifest ${reference}` : `tag ${reference}`;
    const res = await this.#get(`/manifests/${reference}`, { accept: MANIFEST_ACCEPT }, signal);
    if (res.statusCode === 404) {
      drain(res);
      throw notFound(
        'UPSTREAM_NOT_FOUND',
        `no ${what} in ${this.repository} at ${this.registry}; check the repository and ${byDigest ? 'digest' : 'tag'} (the registry answered 404)`,
      );
    }
    if (res.statusCode !== 200) throw await this.#unexpected(res, what);

    const mediaType = bareMediaType(res.headers['content-type']);
    if (DOCKER_SCHEMA1.includes(mediaType)) {
      drain(res);
      throw invalid(
        'UPSTREAM_MANIFEST_UNSUPPORTED',
        `${what} of ${this.repository} at ${this.registry} is a Docker schema 1 manifest, which acihost does not convert; push the image again with a current docker or skopeo (schema 2 or OCI)`,
      );
    }
    const tooLarge = (): AcihostError =>
      badGateway(
        'UPSTREAM_MANIFEST_TOO_LARGE',
        `${what} of ${this.repository} at ${this.registry} is over ${this.#maxManifestBytes} bytes, more than any image manifest needs; check the reference`,
      );
    const length = Number(res.headers['content-length']);
    if (Number.isFinite(length) && length > this.#maxManifestBytes) {
      res.destroy();
      throw tooLarge();
    }
    const bytes = await readBody(res, this.#maxManifestBytes, tooLarge, this.registry, this.#conn);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    // Checked against what was asked for, then against what the registry says it sent.
    const claimed = byDigest ? reference : headerValue(res.headers['docker-content-digest']);
    if (claimed !== undefined && claimed.startsWith('sha256:') && claimed !== digest) {
      throw badGateway(
        'UPSTREAM_DIGEST_MISMATCH',
        `${what} of ${this.repository} at ${this.registry} has digest ${digest}, not ${claimed}; the registry or something on the way served other bytes`,
      );
    }
    return { mediaType, digest, bytes };
  }

  async blob(descriptor: Descriptor, signal?: AbortSignal): Promise<Readable> {
    const what = `blob ${descriptor.digest} of ${this.repository} at ${this.registry}`;
    if (!DIGEST_PATTERN.test(descriptor.digest)) {
      throw invalid('UPSTREAM_MANIFEST_UNSUPPORTED', `${what}: only sha256 digests are verified, so only they are fetched`);
    }
    const res = await this.#get(`/blobs/${descriptor.digest}`, {}, signal);
    if (res.statusCode === 404) {
      drain(res);
      throw badGateway('UPSTREAM_BAD_RESPONSE', `${what} is missing (404), though a manifest names it; the upstream image is incomplete`);
    }
    if (res.statusCode !== 200) throw await this.#unexpected(res, what);
    const length = Number(res.headers['content-length']);
    if (res.headers['content-length'] !== undefined && length !== descriptor.size) {
      res.destroy();
      throw badGateway(
        'UPSTREAM_DIGEST_MISMATCH',
        `${what} is ${length} bytes, not the ${descriptor.size} its manifest says: the upstream registry served other bytes`,
      );
    }
    return this.#checked(res, descriptor, what, signal);
  }

  /** Closes the kept-alive connections; requests after this still work, on new ones. */
  close(): void {
    this.#agents.destroy();
  }

  // The body of `res` through a digest check; a network failure or stall fails the returned stream.
  #checked(res: IncomingMessage, descriptor: Descriptor, what: string, signal: AbortSignal | undefined): Readable {
    const check = new DigestCheck(descriptor.digest, descriptor.size, what);
    // The host that sends it, which a redirect may have made another than the registry.
    const host = this.#origins.get(res)?.host ?? this.registry;
    const fail = (error: unknown): void => {
      check.destroy(error as Error);
      res.destroy();
    };
    const stopWatch = watchIdle(res, this.#conn.timeouts.idleMs, () => fail(idleError(host, this.#conn.timeouts.idleMs, `${what}`)));
    res.once('error', (error) => fail(describeFailure(error, host, this.#conn)));
    res.once('aborted', () =>
      fail(
        badGateway('UPSTREAM_UNREACHABLE', `${host} closed the connection in the middle of ${what}; check that the registry is healthy`),
      ),
    );
    const onAbort = (): void => fail(signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    check.once('close', () => {
      stopWatch();
      signal?.removeEventListener('abort', onAbort);
      if (!res.complete) res.destroy();
    });
    res.pipe(check);
    return check;
  }

  // A GET of `path` under the repository, authenticated as the registry asks, redirects followed.
  async #get(path: string, headers: OutgoingHttpHeaders, signal: AbortSignal | undefined): Promise<IncomingMessage> {
    const scope = `repository:${this.repository}:pull`;
    const url = new URL(`${this.#base}${path}`);
    const auth = this.#cachedAuth(scope);
    let res = await this.#follow(url, headers, auth, signal);
    // Only the registry's own challenge is answered: a host it redirects to never gets our credentials.
    if (res.statusCode === 401 && this.#origins.get(res)?.origin === url.origin) {
      const challenge = parseWwwAuthenticate(res.headers['www-authenticate']);
      drain(res);
      res = await this.#follow(url, headers, await this.#authenticate(challenge, scope, signal), signal);
      if (res.statusCode === 401) {
        drain(res);
        throw this.#authFailed(`it refused ${this.#credentials === undefined ? 'anonymous access' : 'the credentials'} (401)`);
      }
    }
    if (res.statusCode === 403) {
      drain(res);
      throw this.#authFailed(`it denied ${this.#credentials === undefined ? 'anonymous ' : ''}access (403)`);
    }
    return res;
  }

  // Follows redirects: blobs are often served from elsewhere (object storage, a CDN), which gets no credentials of ours.
  async #follow(
    url: URL,
    headers: OutgoingHttpHeaders,
    auth: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<IncomingMessage> {
    const origin = url.origin;
    let at = url;
    for (let hop = 0; ; hop++) {
      const sameOrigin = at.origin === origin;
      const res = await send(
        at,
        { ...headers, ...(auth !== undefined && sameOrigin ? { authorization: auth } : {}) },
        this.#conn,
        this.#agents,
        signal,
      );
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (![301, 302, 303, 307, 308].includes(status) || location === undefined) {
        this.#origins.set(res, at);
        return res;
      }
      drain(res);
      if (hop >= MAX_REDIRECTS) {
        throw badGateway(
          'UPSTREAM_BAD_RESPONSE',
          `${this.registry} redirected more than ${MAX_REDIRECTS} times from ${url.pathname}; check the registry's storage redirect settings`,
        );
      }
      at = new URL(location, at);
    }
  }

  #cachedAuth(scope: string): string | undefined {
    if (this.#basic !== undefined) return this.#basic;
    const token = this.#tokens.get(scope);
    if (token === undefined) return undefined;
    if (Date.now() < token.expiresAt) return token.header;
    this.#tokens.delete(scope);
    return undefined;
  }

  // The Authorization header answering `challenge`, fetching a token when it is Bearer.
  async #authenticate(challenge: Challenge | undefined, scope: string, signal: AbortSignal | undefined): Promise<string> {
    if (challenge?.scheme === 'basic') {
      if (this.#credentials === undefined) throw this.#authFailed('it asks for a user name and password (Basic) and none are configured');
      this.#basic = `Basic ${Buffer.from(`${this.#credentials.username}:${this.#credentials.password}`).toString('base64')}`;
      return this.#basic;
    }
    if (challenge?.scheme !== 'bearer') {
      throw badGateway(
        'UPSTREAM_AUTH_FAILED',
        `${this.registry} answered 401 with no challenge acihost can answer (${challenge === undefined ? 'no WWW-Authenticate' : challenge.name}); only Bearer and Basic are supported`,
      );
    }
    const token = await this.#fetchToken(challenge, scope, signal);
    this.#tokens.set(scope, token);
    return token.header;
  }

  async #fetchToken(
    challenge: Extract<Challenge, { scheme: 'bearer' }>,
    scope: string,
    signal: AbortSignal | undefined,
  ): Promise<CachedToken> {
    let realm: URL;
    try {
      realm = new URL(challenge.realm);
    } catch {
      throw badGateway(
        'UPSTREAM_BAD_RESPONSE',
        `${this.registry} named a token service that is not a URL (${JSON.stringify(challenge.realm)})`,
      );
    }
    if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && this.#conn.insecureHttp)) {
      throw badGateway(
        'UPSTREAM_BAD_RESPONSE',
        `${this.registry} named a token service that is not https:// (${realm.origin}); credentials go over TLS only`,
      );
    }
    if (challenge.service !== undefined) realm.searchParams.set('service', challenge.service);
    realm.searchParams.append('scope', challenge.scope ?? scope);
    const headers: OutgoingHttpHeaders = {};
    if (this.#credentials !== undefined) {
      headers.authorization = `Basic ${Buffer.from(`${this.#credentials.username}:${this.#credentials.password}`).toString('base64')}`;
    }
    const requested = Date.now();
    const res = await send(realm, headers, this.#conn, this.#agents, signal);
    const status = res.statusCode ?? 0;
    if (status === 401 || status === 403) {
      drain(res);
      throw this.#authFailed(
        `its token service ${realm.origin} refused ${this.#credentials === undefined ? 'anonymous access' : 'the credentials'} (${status})`,
      );
    }
    const tooLarge = (): AcihostError =>
      badGateway(
        'UPSTREAM_BAD_RESPONSE',
        `the token service ${realm.origin} of ${this.registry} answered with over ${MAX_TOKEN_RESPONSE_BYTES} bytes`,
      );
    const body = await readBody(res, MAX_TOKEN_RESPONSE_BYTES, tooLarge, realm.host, this.#conn);
    if (status !== 200) {
      throw badGateway(
        'UPSTREAM_BAD_RESPONSE',
        `the token service ${realm.origin} of ${this.registry} answered ${status}; check that it is healthy`,
      );
    }
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
    } catch {
      parsed = {};
    }
    const token = typeof parsed.token === 'string' && parsed.token !== '' ? parsed.token : parsed.access_token;
    if (typeof token !== 'string' || token === '') {
      throw badGateway('UPSTREAM_BAD_RESPONSE', `the token service ${realm.origin} of ${this.registry} answered without a token`);
    }
    const seconds = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : DEFAULT_TOKEN_SECONDS;
    return { header: `Bearer ${token}`, expiresAt: requested + seconds * 1000 - TOKEN_MARGIN_MS };
  }

  #authFailed(what: string): AcihostError {
    const check =
      this.#credentials === undefined
        ? `set ${this.#credentialsSetting} if the repository is private`
        : `check ${this.#credentialsSetting}`;
    return badGateway('UPSTREAM_AUTH_FAILED', `upstream registry ${this.registry}, repository ${this.repository}: ${what}; ${check}`);
  }

  // A status no step expects: the registry's own error message when it gave one.
  async #unexpected(res: IncomingMessage, what: string): Promise<AcihostError> {
    const status = res.statusCode ?? 0;
    let detail = '';
    try {
      const body = await readBody(res, 64 * 1024, () => badGateway('UPSTREAM_BAD_RESPONSE', 'too long'), this.registry, this.#conn);
      const errors = (JSON.parse(body.toString('utf8')) as { errors?: { code?: string; message?: string }[] }).errors;
      const first = errors?.[0];
      if (first !== undefined) detail = `: ${[first.code, first.message].filter(Boolean).join(' ')}`;
    } catch {
      // No readable error body: the status says enough.
    }
    const advice =
      status === 429
        ? `it is limiting requests; try again after ${headerValue(res.headers['retry-after']) ?? 'a while'} seconds`
        : status >= 500
          ? 'the registry failed; try again, or check its health'
          : 'check the registry and the reference';
    return badGateway('UPSTREAM_BAD_RESPONSE', `${this.registry} answered ${status} for ${what}${detail}; ${advice}`);
  }
}

const headerValue = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);
