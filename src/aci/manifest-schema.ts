/**
 * The appc ImageManifest (appc/spec `spec/aci.md` "Image Manifest Schema",
 * `schema/image.go`, `schema/types/app.go`, `annotations.go`, `dependencies.go`).
 */
import { z } from 'zod';
import { absolutePath, acIdentifier, acName, acVersion, goString, labels, optional, quote, refineUniqueNames } from './manifest-fields.ts';

const exec = z.array(z.string());

const eventHandler = z.looseObject({
  name: z.enum(['pre-start', 'post-stop'], { error: 'must be "pre-start" or "post-stop"' }),
  exec: optional(exec),
});

const environmentVariable = z.looseObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, { error: 'must use only letters, digits, _ . and -' }),
  value: goString,
});

const isolator = z.looseObject({ name: acIdentifier, value: z.unknown() });

const mountPoint = z.looseObject({
  name: acName,
  path: z.string({ error: 'is required' }).min(1, { error: 'is required' }),
  readOnly: optional(z.boolean()),
});

const port = z
  .looseObject({
    name: acName,
    protocol: z.string({ error: 'is required, e.g. "tcp"' }).min(1, { error: 'is required, e.g. "tcp"' }),
    port: z.int({ error: 'must be a whole number from 1 to 65535' }).min(1).max(65535),
    count: optional(z.int().min(1, { error: 'must be at least 1' })),
    socketActivated: optional(z.boolean()),
  })
  .refine((p) => p.port + (p.count ?? 1) - 1 <= 65535, {
    path: ['count'],
    error: 'port + count - 1 must not pass 65535',
  });

/** Go reads "" as an unset working directory, so only a non-empty one must be absolute. */
const workingDirectory = z.string().refine((s) => s === '' || s.startsWith('/'), {
  error: 'must be an absolute path (start with /)',
});

const requiredId = (what: string) =>
  z.string({ error: `is required when "app" is present (e.g. "0" for ${what})` }).min(1, {
    error: `is required when "app" is present (e.g. "0" for ${what})`,
  });

const app = z.looseObject({
  exec: optional(exec),
  eventHandlers: optional(z.array(eventHandler).superRefine((l, ctx) => refineUniqueNames(l, ctx, 'event handler'))),
  user: requiredId('root'),
  group: requiredId('the root group'),
  supplementaryGIDs: optional(z.array(z.int().min(0))),
  workingDirectory: optional(workingDirectory),
  environment: optional(z.array(environmentVariable)),
  isolators: optional(z.array(isolator)),
  mountPoints: optional(z.array(mountPoint)),
  ports: optional(z.array(port)),
});

const dependency = z.looseObject({
  imageName: acIdentifier,
  imageID: optional(z.string().regex(/^sha512-[0-9a-f]{1,128}$/, { error: 'must be "sha512-" and lowercase hex' })),
  labels: optional(labels),
  size: optional(z.int().min(0)),
});

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-](\d{2}):(\d{2}))$/;

function isRfc3339(s: string): boolean {
  const m = RFC3339.exec(s);
  if (m === null) return false;
  const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const day = new Date(Date.UTC(y, mo - 1, d));
  const dayOk = day.getUTCFullYear() === y && day.getUTCMonth() === mo - 1 && day.getUTCDate() === d;
  const zoneOk = m[9] === undefined || (Number(m[9]) < 24 && Number(m[10]) < 60);
  return dayOk && zoneOk && h < 24 && mi < 60 && sec < 60;
}

function isHttpUrl(s: string): boolean {
  return URL.canParse(s) && ['http:', 'https:'].includes(new URL(s).protocol);
}

/** appc gives three annotation names a format; the rest are free strings. */
const ANNOTATION_FORMATS: Record<string, [(s: string) => boolean, string]> = {
  created: [isRfc3339, 'must be an RFC 3339 date-time such as "2024-01-31T12:00:00Z"'],
  homepage: [isHttpUrl, 'must be an http or https URL'],
  documentation: [isHttpUrl, 'must be an http or https URL'],
};

const annotations = z.array(z.looseObject({ name: acIdentifier, value: goString })).superRefine((list, ctx) => {
  refineUniqueNames(list, ctx, 'annotation');
  list.forEach((a, i) => {
    const format = Object.hasOwn(ANNOTATION_FORMATS, a.name) ? ANNOTATION_FORMATS[a.name] : undefined;
    if (format !== undefined && !format[0](a.value)) {
      ctx.addIssue({ code: 'custom', path: [i, 'value'], message: `${format[1]}, not ${quote(a.value)}` });
    }
  });
});

export const imageManifestSchema = z.looseObject({
  acKind: z.literal('ImageManifest', { error: 'must be "ImageManifest"' }),
  acVersion,
  name: acIdentifier,
  labels: optional(labels),
  app: optional(app),
  dependencies: optional(z.array(dependency)),
  pathWhitelist: optional(z.array(absolutePath)),
  annotations: optional(annotations),
});

export type ImageManifest = z.output<typeof imageManifestSchema>;
