import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { forbidden, invalid, isAcihostError, notFound } from '../../errors.ts';
import { layout } from '../../storage/layout.ts';
import type { Storage } from '../../storage/storage.ts';
import {
  formatUpstreamReference,
  manifestReference,
  parseUpstreamReference,
  type UpstreamReference,
} from '../../upstream/upstream-reference.ts';
import { authorize, type TokenRecord } from '../access/tokens.ts';
import { refusal, type AuditLog } from '../audit-log.ts';
import type { AllowList } from './allow-list.ts';
import type { ConversionResult, ConvertedImage, Converter } from './converter.ts';
import type { UpstreamSources } from './upstream-sources.ts';
import type { ImageSource } from '../../convert/image-source.ts';
import type { UpstreamSettings } from '../../config/mirrors-schema.ts';

const imageSchema = z.object({
  name: z.string(),
  version: z.string(),
  os: z.string(),
  arch: z.string(),
  imageId: z.string(),
  manifestDigest: z.string(),
  outcome: z.enum(['created', 'unchanged']),
});

export const conversionRecordSchema = z.object({
  id: z.string(),
  /** What was asked for, as `REGISTRY/REPOSITORY:TAG` or `@sha256:...`. */
  source: z.string(),
  name: z.string(),
  status: z.enum(['running', 'done', 'failed']),
  /** The token that asked, or `cli:<user>`. */
  by: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  progress: z.object({ platformsDone: z.number(), platformsTotal: z.number() }),
  /** The digest the source named upstream: an index, or an image's manifest. */
  digest: z.string().nullable(),
  images: z.array(imageSchema),
  skipped: z.array(z.object({ platform: z.string(), reason: z.string() })),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
});
export type ConversionRecord = z.infer<typeof conversionRecordSchema>;

const CONVERSION_ID = /^[0-9a-f]{20}$/;
// What the pages show of the conversions this process made: a few per name, for the names converted last.
const RECENT_PER_NAME = 5;
const RECENT_NAMES = 1000;

/** What the operator's command line may add for a source outside the allow-list. */
export type UpstreamOverrides = Pick<UpstreamSettings, 'caFile' | 'insecureHttp'>;

/**
 * Conversions asked for by name (`POST /-/api/conversions`, `acihost convert`): an upstream
 * image into ordinary write-once versions, signed by the server. Each has a record in
 * storage that every replica serves, with its progress while it runs and its result after.
 */
export class Conversions {
  private readonly storage: Storage;
  private readonly allow: AllowList;
  private readonly sources: UpstreamSources;
  private readonly converter: Converter;
  private readonly audit: AuditLog;
  private readonly log: Logger;
  /** Conversions running in this process: close() waits for them to stop. */
  private readonly running = new Set<Promise<unknown>>();
  private readonly stopping = new AbortController();
  /** The latest conversions this process made of each name, newest first, for its page. */
  private readonly recentByName = new LRUCache<string, ConversionRecord[]>({ max: RECENT_NAMES });
  #generation = 0;

  constructor(opts: { storage: Storage; allow: AllowList; sources: UpstreamSources; converter: Converter; audit: AuditLog; log: Logger }) {
    this.storage = opts.storage;
    this.allow = opts.allow;
    this.sources = opts.sources;
    this.converter = opts.converter;
    this.audit = opts.audit;
    this.log = opts.log;
  }

  /**
   * Starts a conversion of `source` (allowed by the configuration) into `as` (default: the
   * name the allow-list maps it to) by a token with the `convert` scope for that name.
   * `done` settles when it ends, with its final record or its error.
   */
  async request(
    token: TokenRecord,
    ask: { source: string; as?: string },
  ): Promise<{ record: ConversionRecord; done: Promise<ConversionRecord> }> {
    const reference = parseUpstreamReference(ask.source);
    const mapping = this.allow.forUpstream(reference);
    if (!mapping) {
      throw forbidden(
        'UPSTREAM_NOT_ALLOWED',
        `${reference.registry}/${reference.repository} is not in this server's allow-list (mirrors.upstreams); ask the operator to add it`,
      );
    }
    const name = ask.as ?? mapping.name;
    authorize(token, 'convert', name);
    const source = await this.sources.open(mapping);
    return this.start(token, reference, name, source);
  }

  /** `acihost convert`: the operator may convert any source; an allowed one keeps its credentials and CA. */
  async runAsOperator(token: TokenRecord, text: string, as: string | undefined, overrides: UpstreamOverrides): Promise<ConversionRecord> {
    const reference = parseUpstreamReference(text);
    const mapping = this.allow.forUpstream(reference);
    const name = as ?? mapping?.name;
    if (!name) {
      throw invalid(
        'CONVERSION_NAME_MISSING',
        `${reference.registry}/${reference.repository} is not in mirrors.upstreams, so it has no name here; give one with --as HOST/PATH/NAME`,
      );
    }
    const settings = { ...(mapping?.upstream ?? {}), ...definedOnly(overrides) };
    const source = await this.sources.openWith(reference, settings);
    try {
      return await (
        await this.start(token, reference, name, source)
      ).done;
    } finally {
      source.close();
    }
  }

  async get(id: string): Promise<ConversionRecord> {
    const bytes = CONVERSION_ID.test(id) ? await this.storage.get(layout.conversion(id)) : null;
    if (!bytes) throw notFound('CONVERSION_NOT_FOUND', `no conversion ${id}; POST /-/api/conversions answers with the id of each`);
    return conversionRecordSchema.parse(JSON.parse(bytes.toString('utf8')));
  }

  private async start(
    token: TokenRecord,
    reference: UpstreamReference,
    name: string,
    source: ImageSource,
  ): Promise<{ record: ConversionRecord; done: Promise<ConversionRecord> }> {
    const record: ConversionRecord = {
      id: randomBytes(10).toString('hex'),
      source: formatUpstreamReference(reference),
      name,
      status: 'running',
      by: token.id,
      startedAt: new Date().toISOString(),
      finishedAt: null,
      progress: { platformsDone: 0, platformsTotal: 0 },
      digest: null,
      images: [],
      skipped: [],
      error: null,
    };
    await this.save(record);
    const done = this.run(record, token, reference, source);
    this.running.add(done);
    void done.catch(() => {}).finally(() => this.running.delete(done));
    return { record, done };
  }

  private async run(
    record: ConversionRecord,
    token: TokenRecord,
    reference: UpstreamReference,
    source: ImageSource,
  ): Promise<ConversionRecord> {
    let result: ConversionResult | undefined;
    const published: ConvertedImage[] = [];
    // Progress is saved in order, and never after the outcome.
    let saving = Promise.resolve();
    const saveInOrder = (next: ConversionRecord) => (saving = saving.then(() => this.save(next)).catch(() => {}));
    try {
      result = await this.converter.convert({
        source,
        reference: manifestReference(reference),
        name: record.name,
        platforms: 'all',
        token,
        signal: this.stopping.signal,
        onProgress: (progress) => void saveInOrder({ ...record, progress }),
        onPublished: (image) => published.push(image),
      });
    } catch (e) {
      await saving;
      const failed: ConversionRecord = {
        ...record,
        status: 'failed',
        finishedAt: new Date().toISOString(),
        images: published.map(imageOf),
        error: errorOf(e),
      };
      await this.save(failed).catch(() => {});
      await this.audit.record({
        actor: token.id,
        action: 'convert',
        name: record.name,
        ...refusal(e),
        detail: { conversion: record.id, source: record.source },
      });
      if (!isAcihostError(e)) this.log.error({ err: e, conversion: record.id }, 'conversion failed');
      throw e;
    }
    await saving;
    const done: ConversionRecord = {
      ...record,
      status: 'done',
      finishedAt: new Date().toISOString(),
      progress: { platformsDone: result.images.length, platformsTotal: result.images.length },
      digest: result.digest,
      images: result.images.map(imageOf),
      skipped: result.skipped,
    };
    await this.save(done);
    const created = done.images.some((i) => i.outcome === 'created');
    await this.audit.record({
      actor: token.id,
      action: 'convert',
      name: record.name,
      result: created ? 'created' : 'unchanged',
      detail: {
        conversion: record.id,
        source: record.source,
        digest: result.digest,
        versions: done.images.map((i) => `${i.version} ${i.os}/${i.arch}`),
      },
    });
    return done;
  }

  private async save(record: ConversionRecord): Promise<void> {
    await this.storage.put(layout.conversion(record.id), Buffer.from(JSON.stringify(record, null, 1)));
    const others = (this.recentByName.get(record.name) ?? []).filter((r) => r.id !== record.id);
    this.recentByName.set(record.name, [record, ...others].slice(0, RECENT_PER_NAME));
    this.#generation++;
  }

  /** The conversions of `name` this process made since it started, newest first (its page shows them). */
  recent(name: string): readonly ConversionRecord[] {
    return this.recentByName.get(name) ?? [];
  }

  /** Grows with every change of a conversion made here. */
  get generation(): number {
    return this.#generation;
  }

  /** Stops the conversions running here; each records its failure. */
  async close(): Promise<void> {
    this.stopping.abort(new Error('the server is stopping'));
    await Promise.allSettled([...this.running]);
  }
}

const imageOf = ({ record: r, outcome, manifestDigest }: ConvertedImage): ConversionRecord['images'][number] => ({
  name: r.name,
  version: r.version,
  os: r.os,
  arch: r.arch,
  imageId: r.imageId,
  manifestDigest,
  outcome,
});

function errorOf(e: unknown): { code: string; message: string } {
  return isAcihostError(e)
    ? { code: e.code, message: e.message }
    : { code: 'INTERNAL', message: 'the conversion failed inside the server; the operator can find it in the server log' };
}

const definedOnly = <T extends object>(o: T): Partial<T> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
