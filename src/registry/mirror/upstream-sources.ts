import { readFile } from 'node:fs/promises';
import type { UpstreamSettings } from '../../config/mirrors-schema.ts';
import { badGateway } from '../../errors.ts';
import { DistributionClient } from '../../upstream/distribution-client.ts';
import type { MirrorMapping, UpstreamRepository } from './allow-list.ts';

export interface UpstreamClientSettings {
  timeoutSeconds: number;
  maxManifestBytes: number;
  userAgent: string;
}

type ClientSettings = Pick<UpstreamSettings, 'caFile' | 'insecureHttp' | 'username' | 'passwordFile' | 'passwordEnv'>;

// Clients kept for reuse: their connections and bearer tokens serve the next conversion.
const KEPT_CLIENTS = 64;

/**
 * Opens upstream repositories with the settings of the rule allowing them: its CA, its
 * credentials (read when a client is made, so a rotated password file takes effect with
 * the next new client), plain HTTP only where the operator marked it.
 */
export class UpstreamSources {
  private readonly settings: UpstreamClientSettings;
  private readonly clients = new Map<string, Promise<DistributionClient>>();

  constructor(settings: UpstreamClientSettings) {
    this.settings = settings;
  }

  /** The client of an allowed repository, kept for the next request of it. */
  open(mapping: MirrorMapping): Promise<DistributionClient> {
    const key = `${mapping.registry}/${mapping.repository}\n${JSON.stringify(mapping.upstream)}`;
    let client = this.clients.get(key);
    if (!client) {
      client = this.openWith(mapping, mapping.upstream);
      client.catch(() => this.clients.delete(key));
      this.clients.set(key, client);
      if (this.clients.size > KEPT_CLIENTS) this.forget(this.clients.keys().next().value!);
    }
    return client;
  }

  /** A client of its own (the caller closes it): for a source named on the command line, allowed or not. */
  async openWith(repository: UpstreamRepository, upstream: ClientSettings): Promise<DistributionClient> {
    return new DistributionClient({
      registry: repository.registry,
      repository: repository.repository,
      ca: upstream.caFile ? await readSetting(upstream.caFile, 'caFile') : undefined,
      insecureHttp: upstream.insecureHttp ?? false,
      credentials: upstream.username ? { username: upstream.username, password: await password(upstream) } : undefined,
      credentialsSetting: 'mirrors.upstreams[].username with passwordFile or passwordEnv',
      timeouts: { connectMs: this.settings.timeoutSeconds * 1000, idleMs: this.settings.timeoutSeconds * 1000 },
      maxManifestBytes: this.settings.maxManifestBytes,
      userAgent: this.settings.userAgent,
    });
  }

  private forget(key: string): void {
    const client = this.clients.get(key);
    this.clients.delete(key);
    void client?.then(
      (c) => c.close(),
      () => {},
    );
  }

  close(): void {
    for (const key of [...this.clients.keys()]) this.forget(key);
  }
}

async function password(upstream: ClientSettings): Promise<string> {
  if (upstream.passwordFile) return (await readSetting(upstream.passwordFile, 'passwordFile')).replace(/\r?\n$/, '');
  const value = upstream.passwordEnv ? process.env[upstream.passwordEnv] : undefined;
  if (!value) {
    throw badGateway(
      'UPSTREAM_PASSWORD_MISSING',
      `the upstream password variable ${upstream.passwordEnv} is not set; set it in the server's environment`,
    );
  }
  return value;
}

async function readSetting(file: string, setting: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw badGateway('UPSTREAM_FILE_UNREADABLE', `cannot read the upstream ${setting} ${file}: ${(e as Error).message}`);
  }
}
