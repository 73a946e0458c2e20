import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { relabelAci } from '../../convert/relabel.ts';
import { AcihostError, gatewayTimeout, isAcihostError, type ErrorKind } from '../../errors.ts';
import type { ErrorCode } from '../../error-codes.ts';
import { Lease } from '../../storage/lease.ts';
import { jsonRecord } from '../../storage/prefix-mirror.ts';
import { layout, type VersionCoordinates } from '../../storage/layout.ts';
import type { Storage } from '../../storage/storage.ts';
import { systemToken } from '../access/operator-token.ts';
import type { TokenRecord } from '../access/tokens.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { VersionRecord } from '../catalog/version-record.ts';
import type { Deleter } from '../publish/deleter.ts';
import type { AllowList, MirrorMapping } from './allow-list.ts';
import type { ServerSigner } from '../trust/server-signing.ts';
import type { Converter } from './converter.ts';
import type { UpstreamSources } from './upstream-sources.ts';
import { DOCKER_TAG, isPinnedVersion, pinnedVersion, versionFor } from './versions.ts';

const tagStateSchema = z.object({
  /** What the tag named upstream when it was converted: an index or a manifest. */
  digest: z.string(),
  /** The platform's own manifest, which the version was converted from (UNKNOWN: not converted here). */
  manifestDigest: z.string(),
  version: z.string(),
  checkedAt: z.string(),
});
type TagState = z.infer<typeof tagStateSchema>;

const UNKNOWN = '';

const failureSchema = z.object({ kind: z.string(), code: z.string(), message: z.string(), at: z.string() });

// Tag states kept in memory, for the tags fetched last.
const KNOWN_STATES = 10_000;
// A lease is renewed this often while its conversion runs, and lapses after LEASE_MS without it.
const LEASE_RENEW_MS = 5_000;
const LEASE_MS = 30_000;
// How often a request waiting on another replica's conversion looks again.
const WAIT_POLL_MS = 250;
// A failed conversion answers the requests that waited on it, and the ones this soon after.
const FAILURE_KEPT_MS = 10_000;
// Failures and leases untouched this long are leftovers (a live lease is renewed every few seconds).
const LEFTOVER_MS = 3_600_000;

export interface PullThroughSettings {
  refreshSeconds: number;
  waitSeconds: number;
}

/**
 * Serves names under pull-through prefixes with nothing converted beforehand: the first
 * request for a version converts it, once, while every other request (here or on another
 * replica) waits for that one conversion. A tag is looked up upstream again once
 * `refreshSeconds` have passed; a moved tag is converted anew, and its earlier conversion
 * is kept under its digest-pinned version.
 */
export class PullThrough {
  private readonly storage: Storage;
  private readonly catalog: Catalog;
  private readonly allow: AllowList;
  private readonly sources: UpstreamSources;
  private readonly converter: Converter;
  private readonly signer: ServerSigner;
  private readonly deleter: Deleter;
  private readonly settings: PullThroughSettings;
  private readonly log: Logger;
  private readonly token: TokenRecord;
  private readonly owner = randomBytes(8).toString('hex');
  private readonly stopping = new AbortController();
  /** The tag states this process read or wrote last, by key; only fresh ones are used. */
  private readonly knownStates = new LRUCache<string, TagState>({ max: KNOWN_STATES });
  /** Conversions under way in this process, so concurrent requests share one. */
  private readonly running = new Map<string, Promise<VersionRecord>>();
  private readonly gzipLevel: number;

  constructor(opts: {
    storage: Storage;
    catalog: Catalog;
    allow: AllowList;
    sources: UpstreamSources;
    converter: Converter;
    signer: ServerSigner;
    deleter: Deleter;
    domain: string;
    settings: PullThroughSettings;
    gzipLevel: number;
    log: Logger;
  }) {
    this.storage = opts.storage;
    this.catalog = opts.catalog;
    this.allow = opts.allow;
    this.sources = opts.sources;
    this.converter = opts.converter;
    this.signer = opts.signer;
    this.deleter = opts.deleter;
    this.settings = opts.settings;
    this.gzipLevel = opts.gzipLevel;
    this.log = opts.log;
    // Moving a tag deletes its version and publishes it again: that takes the overwrite scope.
    this.token = systemToken(opts.domain, 'mirror', ['sign', 'delete', 'overwrite']);
  }

  /** Whether discovery answers for `name` with nothing stored: a pull-through prefix covers it. */
  covers(name: string): boolean {
    return this.allow.coversName(name);
  }

  /** The upstream repository `name` mirrors, as `docker://REGISTRY/REPOSITORY`, when a pull-through rule maps it. */
  upstreamOf(name: string): string | undefined {
    const mapping = this.allow.forName(name);
    return mapping && `docker://${mapping.registry}/${mapping.repository}`;
  }

  /** Whether the bytes at these coordinates can change: a pull-through tag moves with its upstream tag. */
  moves(c: VersionCoordinates): boolean {
    return !isPinnedVersion(c.version) && this.allow.forName(c.name) !== undefined;
  }

  /**
   * The version to serve at `c`, converting its tag first when it is not stored or has moved
   * (for `latest`, the upstream tag `latest`); undefined when `c` is not a pull-through name,
   * or names a pinned version (those are served as stored, never converted on request).
   */
  async resolve(c: VersionCoordinates): Promise<VersionRecord | undefined> {
    const mapping = this.allow.forName(c.name);
    if (!mapping || isPinnedVersion(c.version)) return undefined;
    if (!DOCKER_TAG.test(c.version)) return undefined;
    const record = await this.upToDate(c, mapping);
    // `latest` is then what it is for any name (docs/http-api.md): the highest version, which
    // the page and the API show too; with the upstream `latest` just converted, that one unless
    // a version that parses as semver outranks it.
    return c.version === 'latest' ? (this.catalog.latest(c.name, c.os, c.arch) ?? record) : record;
  }

  /** The conversion of the tag, converted first when it is not stored or has moved upstream. */
  private async upToDate(c: VersionCoordinates, mapping: MirrorMapping): Promise<VersionRecord> {
    const key = layout.mirrorTag(c);
    // A state this process read or wrote within refreshSeconds needs no look in storage: every
    // download of a mirror name comes here.
    const known = this.knownStates.get(key);
    const state = known && this.isFresh(known) ? known : await this.tagState(c);
    const current = state ? await this.catalog.find({ ...c, version: state.version }) : undefined;
    if (current && state && this.isFresh(state)) return current;
    let running = this.running.get(key);
    if (!running) {
      running = this.update(c, mapping, current, state).finally(() => this.running.delete(key));
      running.catch(() => {}); // each request awaits it below, or has given up waiting
      this.running.set(key, running);
    }
    return this.waitFor(c, running);
  }

  /** A request waits at most `waitSeconds` for a conversion, which goes on for the requests after it. */
  private async waitFor(c: VersionCoordinates, running: Promise<VersionRecord>): Promise<VersionRecord> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.waitTimeout(c)), this.settings.waitSeconds * 1000);
    });
    try {
      return await Promise.race([running, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private waitTimeout(c: VersionCoordinates) {
    return gatewayTimeout(
      'CONVERSION_WAIT_TIMEOUT',
      `${c.name}:${c.version} is still being converted after mirrors.waitSeconds (${this.settings.waitSeconds}); try again later`,
    );
  }

  /** Removes failures and leases older than an hour: what requests for tags that never converted leave. */
  async sweep(now = Date.now()): Promise<number> {
    let removed = 0;
    for (const prefix of [layout.mirrorFailures, layout.mirrorConvertings]) {
      for await (const o of this.storage.list(prefix)) {
        if (now - o.modified.getTime() < LEFTOVER_MS) continue;
        await this.storage.delete(o.key);
        removed++;
      }
    }
    return removed;
  }

  /** Stops the conversions running here (the server is stopping); each records its failure. */
  close(): void {
    this.stopping.abort(new Error('the server is stopping'));
  }

  /** Looks the tag up upstream and converts it when it is new or has moved; else serves what is stored. */
  private async update(
    c: VersionCoordinates,
    mapping: MirrorMapping,
    current: VersionRecord | undefined,
    state: TagState | undefined,
  ): Promise<VersionRecord> {
    const source = await this.sources.open(mapping);
    const signal = this.stopping.signal;
    if (current && state) {
      try {
        const top = await source.manifest(c.version, signal);
        if (top.digest === state.digest) {
          await this.saveTagState(c, { ...state, checkedAt: new Date().toISOString() });
          return current;
        }
      } catch (err) {
        // Upstream away: what was converted before is still what the tag named last.
        this.log.warn({ err, name: c.name, tag: c.version }, 'failed to look up a mirrored tag upstream; serving its last conversion');
        return current;
      }
      try {
        return await this.convertOnce(c, mapping, signal);
      } catch (err) {
        // The moved tag did not convert (its layers away or over a limit): the last conversion is
        // served, and the upstream asked again only after another refreshSeconds.
        this.log.warn({ err, name: c.name, tag: c.version }, 'failed to convert a moved mirrored tag; serving its last conversion');
        await this.saveTagState(c, { ...state, checkedAt: new Date().toISOString() }).catch(() => {});
        return current;
      }
    }
    return this.convertOnce(c, mapping, signal);
  }

  /** Converts the tag unless another replica is doing it; then waits for that one. */
  private async convertOnce(c: VersionCoordinates, mapping: MirrorMapping, signal: AbortSignal): Promise<VersionRecord> {
    const lease = new Lease(this.storage, layout.mirrorConverting(c), this.owner);
    const deadline = Date.now() + this.settings.waitSeconds * 1000;
    const startedAt = Date.now();
    for (;;) {
      const failure = await this.recentFailure(c, startedAt - FAILURE_KEPT_MS);
      if (failure) throw failure;
      if (await lease.take(LEASE_MS)) break;
      await sleep(WAIT_POLL_MS);
      const held = await lease.holder();
      if (!held) {
        // Finished elsewhere: a fresh state means the conversion is there to serve.
        const state = await this.tagState(c);
        const record =
          state && Date.parse(state.checkedAt) >= startedAt - 1000 ? await this.catalog.find({ ...c, version: state.version }) : undefined;
        if (record) return record;
      }
      if (Date.now() > deadline) throw this.waitTimeout(c);
    }
    const renew = setInterval(() => void lease.renew(LEASE_MS).catch(() => {}), LEASE_RENEW_MS);
    try {
      const record = await this.convert(c, mapping, signal);
      await this.storage.delete(layout.mirrorFailed(c)).catch(() => {});
      return record;
    } catch (e) {
      await this.saveFailure(c, e);
      throw e;
    } finally {
      clearInterval(renew);
      await lease.release().catch(() => {});
    }
  }

  private async convert(c: VersionCoordinates, mapping: MirrorMapping, signal: AbortSignal): Promise<VersionRecord> {
    const source = await this.sources.open(mapping);
    const tag = c.version;
    const resolved = await this.converter.resolve(source, tag, { os: c.os, arch: c.arch }, signal);
    const image = resolved.images[0]!;
    const version = versionFor(tag, image.manifestDigest);
    const state = await this.tagState(c);
    const previous = await this.catalog.find({ ...c, version: state?.version ?? version });
    const now = new Date().toISOString();
    // Converted meanwhile by another replica; or stored with no conversion of its own to say
    // what it came from (its state lost, or pushed by hand), which is kept as it is.
    if (previous && (!state || state.manifestDigest === image.manifestDigest || state.manifestDigest === UNKNOWN)) {
      await this.saveTagState(c, {
        digest: resolved.digest,
        manifestDigest: state ? state.manifestDigest : UNKNOWN,
        version: previous.version,
        checkedAt: now,
      });
      return previous;
    }
    const push = await this.converter.stage({ source, name: c.name, token: this.token, signal }, image, version);
    if (previous && state && previous.version === version) {
      try {
        // The tag moved: its earlier conversion stays fetchable under its pinned version, and
        // its record goes (that one only: another replica may have replaced it already).
        await this.keepPinned(previous, state.manifestDigest, signal);
        await this.deleter.deleteIfPresent(this.token, previous, previous.blob, { movedTo: image.manifestDigest });
      } catch (e) {
        await push.release();
        throw e;
      }
    }
    const { record } = await this.converter.publish(push, this.token);
    await this.saveTagState(c, { digest: resolved.digest, manifestDigest: image.manifestDigest, version, checkedAt: now });
    this.log.info(
      { name: c.name, tag, version, digest: resolved.digest, upstream: `${mapping.registry}/${mapping.repository}` },
      'converted an upstream image on first request',
    );
    return record;
  }

  /** Publishes the conversion `record` again under the pinned version of `manifestDigest`. */
  private async keepPinned(record: VersionRecord, manifestDigest: string, signal: AbortSignal): Promise<void> {
    const pinned = { ...record, version: pinnedVersion(manifestDigest) };
    if (await this.catalog.find(pinned)) return;
    const push = await this.converter.stagePush(this.token, signal, async () =>
      relabelAci(await this.storage.read(record.blob), pinned.version, this.gzipLevel),
    );
    await push.signByServer(this.signer);
    await push.publish(async () => this.token);
  }

  private isFresh(state: TagState): boolean {
    return Date.now() - Date.parse(state.checkedAt) < this.settings.refreshSeconds * 1000;
  }

  /** The tag's state as stored now (another replica may have changed it). */
  private async tagState(c: VersionCoordinates): Promise<TagState | undefined> {
    const state = readRecord(await this.storage.get(layout.mirrorTag(c)), tagStateSchema);
    if (state) this.knownStates.set(layout.mirrorTag(c), state);
    return state;
  }

  private async saveTagState(c: VersionCoordinates, state: TagState): Promise<void> {
    await this.storage.put(layout.mirrorTag(c), Buffer.from(JSON.stringify(state, null, 1)));
    this.knownStates.set(layout.mirrorTag(c), state);
  }

  private async saveFailure(c: VersionCoordinates, e: unknown): Promise<void> {
    // A busy server is no answer about the image: the next request tries again.
    if (!isAcihostError(e) || e.kind === 'too-many') return;
    const body = { kind: e.kind, code: e.code, message: e.message, at: new Date().toISOString() };
    await this.storage.put(layout.mirrorFailed(c), Buffer.from(JSON.stringify(body))).catch(() => {});
  }

  /** The failure of a conversion of `c` that ended after `since`, as the error it was. */
  private async recentFailure(c: VersionCoordinates, since: number): Promise<AcihostError | undefined> {
    const failure = readRecord(await this.storage.get(layout.mirrorFailed(c)).catch(() => null), failureSchema);
    if (!failure || Date.parse(failure.at) < since) return undefined;
    return new AcihostError(failure.kind as ErrorKind, failure.code as ErrorCode, failure.message);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A small record of ours, or undefined when absent or unreadable (a torn write is as none). */
function readRecord<T>(bytes: Buffer | null, schema: z.ZodType<T>): T | undefined {
  if (!bytes) return undefined;
  try {
    return jsonRecord(schema)(bytes);
  } catch {
    return undefined;
  }
}
