/**
 * The `mirrors` section: which upstream OCI/Docker repositories may be converted into ACIs,
 * under which local prefix, and how upstreams are reached (src/registry/mirror/). The
 * allow-list is the whole of what the server fetches: nothing outside it is ever asked for.
 */
import { z } from 'zod';
import { AC_IDENTIFIER } from '../names.ts';

/** `host[:port]/path` or `host[:port]/path/*`: a repository, or every repository below a path. */
export const UPSTREAM_SOURCE =
  /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?(\/[a-z0-9]+([._-]+[a-z0-9]+)*)+(\/\*)?$|^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?\/\*$/;

const variableName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');

const upstreamSchema = z
  .object({
    source: z
      .string()
      .regex(
        UPSTREAM_SOURCE,
        'must be an upstream repository such as docker.example.com/library/alpine, or docker.example.com/library/* for all below',
      ),
    prefix: z.string().regex(AC_IDENTIFIER, 'must be an image name prefix such as aci.example.com/mirror/library'),
    // Serve names under the prefix by converting on first request; false: only `acihost convert` and the API convert.
    pullThrough: z.boolean().optional(),
    caFile: z.string().min(1).optional(),
    insecureHttp: z.boolean().optional(),
    username: z.string().min(1).optional(),
    passwordFile: z.string().min(1).optional(),
    passwordEnv: variableName.optional(),
  })
  .strict()
  .refine((u) => u.username === undefined || (u.passwordFile === undefined) !== (u.passwordEnv === undefined), {
    message: 'with username, needs exactly one of passwordFile and passwordEnv',
    path: ['username'],
  })
  .refine((u) => u.username !== undefined || (u.passwordFile === undefined && u.passwordEnv === undefined), {
    message: 'a password needs a username',
    path: ['username'],
  });

export type UpstreamSettings = z.infer<typeof upstreamSchema>;

export const mirrorsSchema = z
  .object({
    // A converted tag is looked up upstream again when a request comes this long after the last look.
    refreshSeconds: z.number().int().min(0),
    // An upstream that sends nothing for this long has failed (504).
    timeoutSeconds: z.number().int().min(1).max(3600),
    // A request waits at most this long for a conversion under way (here or on another replica).
    waitSeconds: z
      .number()
      .int()
      .min(1)
      .max(24 * 3600),
    // Where layers are kept while an image is converted; null: the system's temporary directory.
    scratchDir: z.string().min(1).nullable(),
    // gzip level of converted images: 1 converts fastest, 9 stores least.
    gzipLevel: z.number().int().min(1).max(9),
    // Conversions one process runs at once; past it a conversion is refused (429) until one ends.
    maxConversions: z.number().int().min(1).max(64),
    upstreams: z.array(upstreamSchema),
  })
  .strict();
