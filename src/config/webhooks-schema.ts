/**
 * The `webhooks` section: how deliveries are retried, and the subscriptions kept in
 * the configuration file (more are added over the CLI or API and kept in storage;
 * src/registry/webhooks/). Kept apart from schema.ts so that file stays a table of sections.
 */
import { z } from 'zod';
import { AC_IDENTIFIER } from '../names.ts';

/** What a subscription can be told of. */
export const WEBHOOK_EVENTS = ['image.published', 'image.deleted', 'key.added', 'key.retired', 'token.expiring'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** Names of subscriptions in the file: they become part of storage keys and of their id (`config-NAME`). */
export const WEBHOOK_NAME = /^[a-z0-9][a-z0-9-]{0,39}$/;

/** A variable acihost itself does not read, so the check for misspelt ACIHOST_ variables stays exact. */
const secretVariable = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
  .refine((v) => !v.startsWith('ACIHOST_'), 'must not start with ACIHOST_ (those are settings); use a name such as WEBHOOK_CI_SECRET');

const subscriptionSchema = z
  .object({
    name: z.string().regex(WEBHOOK_NAME, 'must be 1-40 of a-z, 0-9 and -, such as ci'),
    prefix: z.string().regex(AC_IDENTIFIER, 'must be an image name prefix such as aci.example.com/team'),
    url: z.string().min(1),
    events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).optional(),
    // The secret never sits in the file itself: a file (a mounted secret) or a variable names it.
    secretFile: z.string().min(1).optional(),
    secretEnv: secretVariable.optional(),
    allowHttp: z.boolean().optional(),
    allowPrivateTarget: z.boolean().optional(),
  })
  .strict()
  .refine((s) => (s.secretFile === undefined) !== (s.secretEnv === undefined), {
    message: 'needs exactly one of secretFile and secretEnv',
    path: ['secretFile'],
  });

export type ConfigSubscription = z.infer<typeof subscriptionSchema>;

export const webhooksSchema = z
  .object({
    // A failed delivery is retried, 1 s, 2 s, 4 s... apart (at most an hour), until this long after its event.
    retryForSeconds: z
      .number()
      .int()
      .min(1)
      .max(30 * 86400),
    timeoutSeconds: z.number().int().min(1).max(300),
    // A claim on a delivery not finished within this is taken over by another replica.
    leaseSeconds: z.number().int().min(2).max(3600),
    subscriptions: z.array(subscriptionSchema),
  })
  .strict()
  .refine((w) => w.leaseSeconds > w.timeoutSeconds, {
    message: 'must be longer than webhooks.timeoutSeconds: an attempt must end before another replica may take it over',
    path: ['leaseSeconds'],
  })
  .refine((w) => new Set(w.subscriptions.map((s) => s.name)).size === w.subscriptions.length, {
    message: 'two subscriptions have the same name',
    path: ['subscriptions'],
  });
