import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { ImageSource, Platform } from '../../convert/image-source.ts';
import { convertImage } from '../../convert/convert-image.ts';
import { configPlatform } from '../../convert/docker-image-config.ts';
import { appcPlatform, indexPlatforms, pickPlatform } from '../../convert/platforms.ts';
import { badGateway, invalid, isAcihostError, notFound, tooMany } from '../../errors.ts';
import { isVersionLabel, prefixCovers } from '../../names.ts';
import { parseImageConfig, type ImageConfig } from '../../upstream/image-config.ts';
import { parseManifestDocument, type ManifestDocument } from '../../upstream/manifest-document.ts';
import type { InspectLimits } from '../../aci/inspect.ts';
import type { TokenRecord } from '../access/tokens.ts';
import type { VersionRecord } from '../catalog/version-record.ts';
import type { Push, PushService } from '../publish/push-service.ts';
import type { ServerSigner } from '../trust/server-signing.ts';
import { versionFor } from './versions.ts';

type ImageManifestDocument = Extract<ManifestDocument, { kind: 'manifest' }>;

/** Which images of a reference to convert: every platform appc can name, or the one asked for. */
export type PlatformChoice = 'all' | { os: string; arch: string };

export interface ConversionRequest {
  source: ImageSource;
  /** A tag, or a digest (`sha256:...`). */
  reference: string;
  /** The name the versions take. */
  name: string;
  platforms: PlatformChoice;
  /** Who converts: the versions are published under its authority (a push under its prefixes). */
  token: TokenRecord;
  signal: AbortSignal;
  onProgress?: (progress: ConversionProgress) => void;
  /** Hears each version published, so a later platform's failure does not hide the earlier ones. */
  onPublished?: (image: ConvertedImage) => void;
}

export interface ConversionProgress {
  platformsDone: number;
  platformsTotal: number;
}

export interface ConvertedImage {
  record: VersionRecord;
  outcome: 'created' | 'unchanged';
  manifestDigest: string;
}

export interface SkippedPlatform {
  platform: string;
  reason: string;
}

export interface ConversionResult {
  /** The digest of what `reference` named: an index, or an image's manifest. */
  digest: string;
  images: ConvertedImage[];
  skipped: SkippedPlatform[];
}

/** One image of a reference, ready to convert. */
export interface PlatformImage {
  manifestDigest: string;
  manifest: ImageManifestDocument;
  config: ImageConfig;
  labels: { os: string; arch: string };
}

export interface ConverterSettings {
  scratchDir: string;
  gzipLevel: number;
  /** Conversions staged at once; past it one is refused until another ends. */
  maxConversions: number;
  limits: InspectLimits & { maxManifestBytes: number };
}

/**
 * Turns upstream images into published, server-signed versions: resolves the reference
 * (an index to its platforms), converts each image's layers into an ACI, and sends it
 * through the same staging, checks and atomic publish as a push.
 */
export class Converter {
  private readonly pushes: PushService;
  private readonly signer: ServerSigner;
  private readonly settings: ConverterSettings;
  private readonly log: Logger;
  /** Conversions fetching and staging layers now. */
  private staging = 0;

  constructor(opts: { pushes: PushService; signer: ServerSigner; settings: ConverterSettings; log: Logger }) {
    this.pushes = opts.pushes;
    this.signer = opts.signer;
    this.settings = opts.settings;
    this.log = opts.log;
  }

  /** The images `reference` names (one, or one per nameable platform of an index) and the platforms skipped. */
  async resolve(
    source: ImageSource,
    reference: string,
    platforms: PlatformChoice,
    signal: AbortSignal,
  ): Promise<{ digest: string; images: PlatformImage[]; skipped: SkippedPlatform[] }> {
    const top = await source.manifest(reference, signal);
    const document = parseManifestDocument(top);
    if (document.kind === 'manifest') {
      const config = await this.config(source, document, signal);
      const labels = appcPlatform(configPlatform(config));
      if (platforms !== 'all' && (platforms.os !== labels.os || platforms.arch !== labels.arch)) {
        throw notFound(
          'CONVERT_PLATFORM_MISSING',
          `the image has no ${platforms.os}/${platforms.arch} variant; it is for ${labels.os}/${labels.arch} only`,
        );
      }
      return { digest: top.digest, images: [{ manifestDigest: top.digest, manifest: document, config, labels }], skipped: [] };
    }
    const { named, skipped } =
      platforms === 'all'
        ? indexPlatforms(document.manifests)
        : { named: [{ descriptor: pickPlatform(document.manifests, platforms), platform: platforms }], skipped: [] };
    const images: PlatformImage[] = [];
    for (const { descriptor, platform } of named) {
      const fetched = await source.manifest(descriptor.digest, signal);
      const manifest = parseManifestDocument(fetched);
      if (manifest.kind !== 'manifest')
        throw invalid('CONVERT_CONFIG_UNCONVERTIBLE', `${descriptor.digest} is an index inside an index, which no client resolves`);
      images.push({ manifestDigest: fetched.digest, manifest, config: await this.config(source, manifest, signal), labels: platform });
    }
    return {
      digest: top.digest,
      images,
      skipped: skipped.map((s) => ({
        platform: s.descriptor.platform ? platformText(s.descriptor.platform) : s.descriptor.digest,
        reason: s.reason,
      })),
    };
  }

  private async config(source: ImageSource, manifest: ImageManifestDocument, signal: AbortSignal): Promise<ImageConfig> {
    return parseImageConfig(await readBlob(source, manifest.config, this.settings.limits.maxManifestBytes, signal), manifest.config.digest);
  }

  /** Converts and publishes every image the request names. */
  async convert(request: ConversionRequest): Promise<ConversionResult> {
    const { source, reference, signal } = request;
    const tag = reference.includes(':') ? undefined : reference;
    const resolved = await this.resolve(source, reference, request.platforms, signal);
    if (resolved.images.length === 0) {
      const skipped = resolved.skipped.map((s) => `${s.platform} (${s.reason})`).join(', ');
      throw invalid('CONVERT_PLATFORM_UNNAMEABLE', `${describe(source, reference)} has no image for a platform appc can name: ${skipped}`);
    }
    const images: ConvertedImage[] = [];
    for (const [i, image] of resolved.images.entries()) {
      const version = versionFor(tag, image.manifestDigest);
      const push = await this.stage(request, image, version);
      const result = await this.publish(push, publishingToken(request.token, request.name));
      images.push({ ...result, manifestDigest: image.manifestDigest });
      request.onPublished?.(images.at(-1)!);
      request.onProgress?.({ platformsDone: i + 1, platformsTotal: resolved.images.length });
    }
    return { digest: resolved.digest, images, skipped: resolved.skipped };
  }

  /**
   * Converts one image into a staged, server-signed push, not yet published: the caller
   * publishes it when it chooses (a moved tag first keeps what it replaces).
   */
  async stage(request: Omit<ConversionRequest, 'platforms' | 'reference'>, image: PlatformImage, version: string): Promise<Push> {
    const { source, name, signal } = request;
    if (!isVersionLabel(version)) {
      throw invalid(
        'CONVERSION_TAG_INVALID',
        `the tag ${version} cannot be an ACI version (1-128 of A-Z, a-z, 0-9, ., +, ~ and -, starting with a letter or digit); convert it by digest instead`,
      );
    }
    if (!this.signer.signerFor(name)) throw this.signer.noSignerError(name, new Date(), 'conversion');
    if (this.staging >= this.settings.maxConversions) {
      throw tooMany(
        'CONVERSIONS_BUSY',
        `this server is already converting ${this.staging} images (mirrors.maxConversions); try again when one has ended`,
      );
    }
    this.staging++;
    let push: Push;
    try {
      push = await this.stagePush(publishingToken(request.token, name), signal, async () => {
        const { aci } = await convertImage({
          source,
          manifest: image.manifest,
          config: image.config,
          name,
          version,
          sourceInfo: {
            registry: source.registry,
            repository: source.repository,
            tag: versionTag(version),
            manifestDigest: image.manifestDigest,
            configDigest: image.manifest.config.digest,
          },
          limits: this.settings.limits,
          scratchDir: this.settings.scratchDir,
          compressionLevel: this.settings.gzipLevel,
          signal,
        });
        return aci;
      });
    } catch (e) {
      if (!isAcihostError(e)) this.log.error({ err: e, name, version }, 'conversion failed');
      throw e;
    } finally {
      this.staging--;
    }
    // Refused, it removes what was staged and audits the refusal itself.
    await push.signByServer(this.signer);
    return push;
  }

  /**
   * Stages the ACI `aci` makes as a push by `token`, not yet signed or published; anything
   * refused on the way removes what was staged and is audited as that push's refusal.
   */
  async stagePush(token: TokenRecord, signal: AbortSignal, aci: () => Promise<Readable>): Promise<Push> {
    const push = this.pushes.begin(token, signal);
    try {
      await push.admit(0);
      await push.stage(await aci());
    } catch (e) {
      await push.refuse(e);
      throw e;
    }
    return push;
  }

  async publish(push: Push, token: TokenRecord): Promise<{ record: VersionRecord; outcome: 'created' | 'unchanged' }> {
    const result = await push.publish(async () => token);
    return { record: result.record, outcome: result.outcome };
  }
}

/** The tag a version came from, for the ACI's annotations: none for a pinned one. */
const versionTag = (version: string): string | undefined => (/^sha256-/.test(version) ? undefined : version);

/**
 * A conversion publishes under the authority of whoever asked, as a push the server signs:
 * the `convert` scope stands for `sign` (which includes `push`) here, over the same prefixes.
 */
function publishingToken(token: TokenRecord, name: string): TokenRecord {
  if (!token.prefixes.some((p) => prefixCovers(p, name)) || token.scopes.includes('sign')) return token;
  return { ...token, scopes: [...token.scopes, 'sign'] };
}

const platformText = (p: Platform): string => `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;

const describe = (source: ImageSource, reference: string): string =>
  `${source.registry}/${source.repository}${reference.includes(':') ? '@' : ':'}${reference}`;

/** A small blob (an image config) read whole, up to `max` bytes. */
async function readBlob(
  source: ImageSource,
  descriptor: { mediaType: string; digest: string; size: number },
  max: number,
  signal: AbortSignal,
): Promise<Buffer> {
  if (descriptor.size > max) {
    throw badGateway(
      'UPSTREAM_CONFIG_TOO_LARGE',
      `the image config ${descriptor.digest} has ${descriptor.size} bytes, more than limits.maxManifestBytes (${max})`,
    );
  }
  const chunks: Buffer[] = [];
  for await (const chunk of await source.blob(descriptor, signal)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
