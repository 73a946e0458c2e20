import { readFile } from 'node:fs/promises';
import type { ImageSource } from '../../convert/image-source.ts';
import { badGateway } from '../../errors.ts';
import { DistributionClient } from '../../upstream/distribution-client.ts';
import type { UpstreamRepository, MirrorMapping } from './allow-list.ts';
import type { UpstreamSettings } from '../../config/mirrors-schema.ts';

export interface UpstreamClientSettings {
  timeoutSeconds: number;
  maxManifestBytes: number;
  userAgent: string;
}

/**
 * Opens upstream repositories with the settings of the rule allowing them: its CA, its
 * credentials (read when used, so a rotated password file needs no restart), plain HTTP
 * only where the operator marked it.
 */
export class UpstreamSources {
  private readonly settings: UpstreamClientSettings;

  constructor(settings: UpstreamClientSettings) {
    this.settings = settings;
  }

  async open(mapping: MirrorMapping): Promise<ImageSource> {
    return this.openWith(mapping, mapping.upstream);
  }

  /** An upstream outside the allow-list, named on the command line by the operator. */
  async openWith(repository: UpstreamRepository, upstream: Pick<UpstreamSettings, 'caFile' | 'insecureHttp' | 'username' | 'passwordFile' | 'passwordEnv'>): Promise<ImageSource> {
    return new DistributionClient({
      registry: repository.registry,
      repository: repository.repository,
      ca: upstream.caFile ? await readSetting(upstream.caFile, 'caFile') : undefined,
      insecureHttp: upstream.insecureHttp ?? false,
      credentials: upstream.username ? { username: upstream.username, password: await password(upstream) } : undefined,
      timeouts: { connectMs: this.settings.timeoutSeconds * 1000, idleMs: this.settings.timeoutSeconds * 1000 },
      maxManifestBytes: this.settings.maxManifestBytes,
      userAgent: this.settings.userAgent,
    });
  }
}

async function password(upstream: Pick<UpstreamSettings, 'passwordFile' | 'passwordEnv'>): Promise<string> {
  if (upstream.passwordFile) return (await readSetting(upstream.passwordFile, 'passwordFile')).replace(/\r?\n$/, '');
  const value = upstream.passwordEnv ? process.env[upstream.passwordEnv] : undefined;
  if (!value) throw badGateway('UPSTREAM_PASSWORD_MISSING', `the upstream password variable ${upstream.passwordEnv} is not set; set it in the server's environment`);
  return value;
}

async function readSetting(file: string, setting: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw badGateway('UPSTREAM_FILE_UNREADABLE', `cannot read the upstream ${setting} ${file}: ${(e as Error).message}`);
  }
}
