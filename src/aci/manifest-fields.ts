/**
 * Field-level zod schemas for the appc image manifest, read the way the appc Go
 * schema (v0.8.11, `schema/types/*.go`) reads them: a `null` optional field is
 * absent, a missing string is Go's zero value "", unknown keys are ignored.
 */
import semver from 'semver';
import { z } from 'zod';
import { AC_IDENTIFIER, AC_NAME } from '../names.ts';

/** Go decodes `null` into an optional field as "not set"; so do we. */
export const optional = <T extends z.ZodType>(schema: T) => schema.nullish().transform((v): z.output<T> | undefined => v ?? undefined);

/** A Go `string` field: missing or null decode to "". */
export const goString = z
  .string()
  .nullish()
  .transform((v) => v ?? '');

export const acIdentifier = z.string({ error: 'is required: an AC Identifier such as "example.com/app"' }).regex(AC_IDENTIFIER, {
  error: 'must be an AC Identifier: lowercase letters and digits, separated by single - . _ ~ or /',
});

export const acName = z
  .string({ error: 'is required: an AC Name such as "http"' })
  .regex(AC_NAME, { error: 'must be an AC Name: lowercase letters and digits, separated by single -' });

export const absolutePath = z.string().startsWith('/', { error: 'must be an absolute path (start with /)' });

/** go-semver rejects a leading "v" and surrounding spaces, which node-semver tolerates. */
function isNonZeroSemver(v: string): boolean {
  if (v !== v.trim() || /^[v=]/i.test(v)) return false;
  const parsed = semver.parse(v);
  if (parsed === null) return false;
  const zeroCore = parsed.major === 0 && parsed.minor === 0 && parsed.patch === 0;
  return !(zeroCore && parsed.prerelease.length === 0 && parsed.build.length === 0);
}

export const acVersion = z
  .string({ error: 'is required: the appc spec version, e.g. "0.8.11"' })
  .refine(isNonZeroSemver, { error: 'must be a non-zero SemVer 2.0 version such as "0.8.11"' });

interface Named {
  name: string;
}

/** Quotes a manifest value for an error message, escaped and cut short. */
export const quote = (s: string): string => JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}...` : s);

/** Adds an issue at `[i, 'name']` for every repeated name in a list. */
export function refineUniqueNames(list: readonly Named[], ctx: z.RefinementCtx, what: string): void {
  const seen = new Set<string>();
  list.forEach((item, i) => {
    if (seen.has(item.name)) {
      ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate ${what} name ${quote(item.name)}` });
    }
    seen.add(item.name);
  });
}

const label = z.looseObject({ name: acIdentifier, value: goString });

export const labels = z.array(label).superRefine((list, ctx) => {
  refineUniqueNames(list, ctx, 'label');
  list.forEach((l, i) => {
    if (l.name === 'name') {
      ctx.addIssue({
        code: 'custom',
        path: [i, 'name'],
        message: 'a label may not be called "name"; the image name goes in the top-level "name" field',
      });
    }
  });
});
