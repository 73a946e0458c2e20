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

// Clients kept for reuse: their connections and bearer tokens serve the next conversion; a
// client is made anew after KEPT_MS, so a rotated password or CA file is read again.
const KEPT_CLIENTS = 64;
const KEPT_MS = 10 * 60 * 1000;

/**
 * Opens upstream repositories with the settings of the rule allowing them: its CA, its
 * credentials, plain HTTP only where the operator marked it.
 */
export class UpstreamSources {
  private readonly settings: UpstreamClientSettings;
  private readonly clients = new Map<string, { client: Promise<DistributionClient>; at: number }>();

  constructor(settings: UpstreamClientSettings) {
    this.settings = settings;
  }

  /** The client of an allowed repository, kept for the next request of it. */
  open(mapping: MirrorMapping, now = Date.now()): Promise<DistributionClient> {
    const key = `${mapping.registry}/${mapping.repository}\n${JSON.stringify(mapping.upstream)}`;
    const kept = this.clients.get(key);
    if (kept && now - kept.at < KEPT_MS) return kept.client;
    this.forget(key);
    const client = this.openWith(mapping, mapping.upstream);
    client.catch(() => this.forget(key));
    this.clients.set(key, { client, at: now });
    if (this.clients.size > KEPT_CLIENTS) this.forget(this.clients.keys().next().value!);
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

  /**
   * Forgets a kept client without closing it: a conversion may still be reading through it.
   * Its idle connections end when the registry closes them.
   */
  private forget(key: string): void {
    this.clients.delete(key);
  }

  /** Closes every kept client (the server is stopping). */
  close(): void {
    for (const { client } of this.clients.values())
      void client.then(
        (c) => c.close(),
        () => {},
      );
    this.clients.clear();
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
