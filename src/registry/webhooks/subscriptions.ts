/**
 * Webhook subscriptions: those of the configuration file (`webhooks.subscriptions`, their
 * secrets in files or variables) and those made with the CLI or API, kept in storage with
 * their secrets so that every replica can sign.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../../config/load.ts';
import { WEBHOOK_EVENTS, type ConfigSubscription, type WebhookEvent } from '../../config/webhooks-schema.ts';
import { conflict, invalid, notFound } from '../../errors.ts';
import { isAcIdentifier, prefixCovers } from '../../names.ts';
import { layout } from '../../storage/layout.ts';
import { jsonRecord, PrefixMirror } from '../../storage/prefix-mirror.ts';
import { createOnce, type Storage } from '../../storage/storage.ts';
import { compareStrings } from '../../util/compare-strings.ts';
import { checkTargetUrl, type TargetPolicy } from './target.ts';

/** A subscription as shown: never its secret. */
export interface Subscription extends TargetPolicy {
  id: string;
  /** `config`: from the configuration file, changed only there; `stored`: made with the CLI or API. */
  source: 'config' | 'stored';
  prefix: string;
  url: string;
  events: WebhookEvent[];
  /** When it was made (null for the configuration's). */
  createdAt: string | null;
}

/** What a delivery needs: the subscription, the secret it signs with, and since when it hears of events. */
export interface SigningSubscription extends Subscription {
  secret: string;
  /** Events before this are not its: when it was made, or when a server first ran with it in its configuration. */
  since: string;
}

const sinceSchema = z.object({ since: z.string() });

const storedSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{20}$/),
  prefix: z.string(),
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_EVENTS)).min(1),
  secret: z.string(),
  allowHttp: z.boolean(),
  allowPrivateTarget: z.boolean(),
  createdAt: z.string(),
});
type StoredSubscription = z.infer<typeof storedSchema>;

const STORED_ID = /^[0-9a-f]{20}$/;
const configId = (name: string) => `config-${name}`;

/** Printable ASCII without spaces or quotes: it must pass through `openssl -hmac "$SECRET"` and config files unchanged. */
const SECRET = /^[!#-&(-~]{16,256}$/;

function checkSecret(secret: string): void {
  if (!SECRET.test(secret)) {
    throw invalid(
      'WEBHOOK_SECRET_INVALID',
      'a webhook secret must be 16-256 printable ASCII characters without spaces or quotes; leave it out to have one made',
    );
  }
}

/** A secret file holds the secret, perhaps followed by a newline (echo, editors). */
export const secretOfFile = (text: string): string => text.replace(/\r?\n$/, '');

export interface NewSubscription extends TargetPolicy {
  prefix: string;
  url: string;
  /** Empty: every kind. */
  events: WebhookEvent[];
  /** Made when not given. */
  secret?: string;
}

export class Subscriptions {
  private readonly storage: Storage;
  private readonly domain: string;
  private readonly configured: ConfigSubscription[];
  private readonly mirror: PrefixMirror<StoredSubscription>;
  private configSecrets = new Map<string, string>();
  private configSince = new Map<string, string>();

  constructor(storage: Storage, domain: string, configured: ConfigSubscription[], onBadRecord: (key: string, e: unknown) => void) {
    this.storage = storage;
    this.domain = domain;
    this.configured = configured;
    this.mirror = new PrefixMirror({
      storage,
      prefix: layout.webhookSubscriptions,
      parse: jsonRecord(storedSchema),
      onBadRecord,
    });
  }

  /**
   * Reads the configuration's secrets (at server start: one that cannot be read stops it), and
   * since when each subscription hears of events: the first start of any server with it, kept
   * in storage, so that a restart resumes where the replicas read to and one added later hears
   * nothing from before it.
   */
  async resolveConfigured(env: NodeJS.ProcessEnv = process.env, now = new Date()): Promise<void> {
    const secrets = readConfiguredSecrets(this.configured, this.domain, env);
    const since = new Map<string, string>();
    for (const id of secrets.keys()) {
      const key = layout.webhookSince(id);
      await createOnce(this.storage, key, Buffer.from(JSON.stringify({ since: now.toISOString() })));
      since.set(id, sinceSchema.parse(JSON.parse((await this.storage.get(key))!.toString('utf8'))).since);
    }
    this.configSecrets = secrets;
    this.configSince = since;
  }

  private fromConfig(c: ConfigSubscription): Subscription {
    return {
      id: configId(c.name),
      source: 'config',
      prefix: c.prefix,
      url: c.url,
      events: c.events ?? [...WEBHOOK_EVENTS],
      ...policyOf(c),
      createdAt: null,
    };
  }

  /** Every subscription, the configuration's first, then the stored ones oldest first. */
  async list(): Promise<Subscription[]> {
    await this.mirror.refresh();
    return [...this.configured.map((c) => this.fromConfig(c)), ...this.storedByAge().map(shown)];
  }

  private storedByAge(): StoredSubscription[] {
    return this.mirror.values().sort((a, b) => compareStrings(a.createdAt, b.createdAt) || compareStrings(a.id, b.id));
  }

  /** Re-reads the stored subscriptions (every poll of the audit log, so a new one hears what follows it). */
  refresh(): Promise<void> {
    return this.mirror.refresh();
  }

  /** The subscriptions deliveries go to now, with their secrets (those of the configuration once resolved). */
  signing(): SigningSubscription[] {
    const configured = this.configured.flatMap((c) => {
      const secret = this.configSecrets.get(configId(c.name));
      const since = this.configSince.get(configId(c.name));
      return secret === undefined || since === undefined ? [] : [{ ...this.fromConfig(c), secret, since }];
    });
    return [...configured, ...this.storedByAge().map((s) => ({ ...shown(s), secret: s.secret, since: s.createdAt }))];
  }

  /**
   * One subscription by id with its secret; `removed` when storage says it is gone, undefined
   * when it is of a configuration this process does not have (another replica's, mid-change).
   */
  async signingById(id: string): Promise<SigningSubscription | 'removed' | undefined> {
    if (STORED_ID.test(id)) {
      const stored = await this.mirror.fetch(layout.webhookSubscription(id));
      if (stored && (await this.storage.stat(layout.webhookSubscription(id))))
        return { ...shown(stored), secret: stored.secret, since: stored.createdAt };
      return 'removed';
    }
    return this.signing().find((s) => s.id === id);
  }

  /** The subscription with `id`, when `visible` lets its prefix be seen; any other is answered as unknown. */
  async get(id: string, visible: (prefix: string) => boolean = () => true): Promise<Subscription> {
    const found = (await this.list()).find((s) => s.id === id);
    if (!found || !visible(found.prefix)) {
      throw notFound(
        'WEBHOOK_NOT_FOUND',
        `no webhook subscription with id ${JSON.stringify(id.slice(0, 100))}; acihost webhook list shows the ids`,
      );
    }
    return found;
  }

  async create(spec: NewSubscription, now = new Date()): Promise<{ subscription: Subscription; secret: string | null }> {
    checkPrefix(this.domain, spec.prefix);
    checkTargetUrl(spec.url, spec);
    if (spec.secret !== undefined) checkSecret(spec.secret);
    const record: StoredSubscription = {
      id: randomBytes(10).toString('hex'),
      prefix: spec.prefix,
      url: spec.url,
      events: spec.events.length > 0 ? [...new Set(spec.events)] : [...WEBHOOK_EVENTS],
      secret: spec.secret ?? randomBytes(32).toString('base64url'),
      allowHttp: spec.allowHttp,
      allowPrivateTarget: spec.allowPrivateTarget,
      createdAt: now.toISOString(),
    };
    await this.storage.put(layout.webhookSubscription(record.id), Buffer.from(JSON.stringify(record, null, 1)), { ifAbsent: true });
    return { subscription: shown(record), secret: spec.secret === undefined ? record.secret : null };
  }

  async remove(id: string): Promise<Subscription> {
    const found = await this.get(id);
    if (found.source === 'config') {
      throw conflict(
        'WEBHOOK_IN_CONFIG',
        `the webhook subscription ${id} is in the configuration file; remove it there (webhooks.subscriptions) and restart`,
      );
    }
    await this.storage.delete(layout.webhookSubscription(id));
    return found;
  }
}

const policyOf = (c: ConfigSubscription): TargetPolicy => ({
  allowHttp: c.allowHttp ?? false,
  allowPrivateTarget: c.allowPrivateTarget ?? false,
});

function shown(s: StoredSubscription): Subscription {
  const { secret: _secret, ...rest } = s;
  return { ...rest, source: 'stored' };
}

/**
 * Checks the configuration's subscriptions and reads their secrets, by subscription id; every
 * problem is reported as a configuration problem, naming the setting (server start, check-config).
 */
export function readConfiguredSecrets(
  configured: ConfigSubscription[],
  domain: string,
  env: NodeJS.ProcessEnv = process.env,
): Map<string, string> {
  const problems: string[] = [];
  const secrets = new Map<string, string>();
  configured.forEach((c, i) => {
    const problem = (field: string, message: string) => problems.push(`webhooks.subscriptions.${i}.${field}: ${message}`);
    try {
      checkPrefix(domain, c.prefix);
    } catch (e) {
      problem('prefix', (e as Error).message);
    }
    try {
      checkTargetUrl(c.url, policyOf(c));
    } catch (e) {
      problem('url', (e as Error).message);
    }
    const field = c.secretFile !== undefined ? 'secretFile' : 'secretEnv';
    let secret: string | undefined;
    if (c.secretFile !== undefined) {
      try {
        secret = secretOfFile(readFileSync(c.secretFile, 'utf8'));
      } catch (e) {
        problem(field, `cannot read ${c.secretFile} (${(e as NodeJS.ErrnoException).code ?? e})`);
      }
    } else {
      secret = env[c.secretEnv!];
      if (!secret) problem(field, `the variable ${c.secretEnv} is not set`);
    }
    if (!secret) return;
    if (SECRET.test(secret)) secrets.set(configId(c.name), secret);
    else problem(field, 'the secret must be 16-256 printable ASCII characters without spaces or quotes');
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return secrets;
}

function checkPrefix(domain: string, prefix: string): void {
  if (!isAcIdentifier(prefix)) {
    throw invalid(
      'WEBHOOK_PREFIX_INVALID',
      `prefix ${JSON.stringify(prefix.slice(0, 200))} is not an image name prefix such as ${domain}/team`,
    );
  }
  if (!prefixCovers(domain, prefix)) {
    throw invalid(
      'WEBHOOK_PREFIX_OUTSIDE_DOMAIN',
      `prefix ${prefix} is outside this server's image domain ${domain}: nothing under it is ever published; use ${domain} or a prefix under it`,
    );
  }
}
