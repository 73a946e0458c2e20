import type { Config } from '../config/schema.ts';
import { WEBHOOK_EVENTS, type WebhookEvent } from '../config/webhooks-schema.ts';
import { secretOfFile } from '../registry/webhooks/subscriptions.ts';
import { usageError, type CliValues } from './args.ts';
import { cliActor } from './cli-audit.ts';
import { readArgumentFile } from './file-errors.ts';
import { withRegistry } from './open-registry.ts';

const out = (s: string) => process.stdout.write(s + '\n');
const err = (s: string) => process.stderr.write(s + '\n');

function events(values: CliValues): WebhookEvent[] {
  const given = values.event ?? [];
  for (const e of given) {
    if (!(WEBHOOK_EVENTS as readonly string[]).includes(e))
      throw usageError(`unknown event ${JSON.stringify(e)}; use ${WEBHOOK_EVENTS.join(', ')}`);
  }
  return given as WebhookEvent[];
}

/** `acihost webhook add --prefix PREFIX --url URL [--event KIND]... [--secret-file FILE] [--allow-http] [--allow-private-target]` */
export async function webhookAdd(config: Config, _args: string[], values: CliValues): Promise<number> {
  const prefix = values.prefix?.[0];
  if (!prefix || values.prefix!.length > 1) throw usageError('webhook add needs one --prefix PREFIX');
  if (!values.url) throw usageError('webhook add needs --url URL');
  const kinds = events(values);
  const secretFile = values['secret-file'];
  const secret = secretFile === undefined ? undefined : secretOfFile((await readArgumentFile(secretFile, 'secret file')).toString('utf8'));
  return withRegistry(config, async (registry) => {
    const { subscription, secret: made } = await registry.webhooks.add(
      {
        prefix,
        url: values.url!,
        events: kinds,
        secret,
        allowHttp: values['allow-http'] ?? false,
        allowPrivateTarget: values['allow-private-target'] ?? false,
      },
      cliActor(),
      'cli',
    );
    // The id alone on the first line and the secret made for it on the second, so a script can read both.
    out(subscription.id);
    if (made !== null) out(made);
    err(
      `added webhook ${subscription.id}: ${subscription.events.join(',')} under ${subscription.prefix} to ${subscription.url}` +
        (made !== null ? '; the secret on the second line is shown only once' : ''),
    );
    return 0;
  });
}

/** `acihost webhook list [--json]` */
export async function webhookList(config: Config, _args: string[], values: CliValues): Promise<number> {
  return withRegistry(config, async (registry) => {
    const subscriptions = await registry.webhooks.list();
    if (values.json) out(JSON.stringify(subscriptions, null, 2));
    else
      for (const s of subscriptions) {
        const allowed = [s.allowHttp && 'http', s.allowPrivateTarget && 'private'].filter(Boolean).join(',');
        out(`${s.id}  ${s.prefix}  ${s.events.join(',')}  ${s.url}${allowed ? `  allows ${allowed}` : ''}`);
      }
    return 0;
  });
}

/** `acihost webhook remove ID` */
export async function webhookRemove(config: Config, args: string[]): Promise<number> {
  const id = args[0]!;
  return withRegistry(config, async (registry) => {
    await registry.webhooks.remove(id, cliActor());
    out(`removed ${id}`);
    return 0;
  });
}
