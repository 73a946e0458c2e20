/**
 * The image config of an OCI or Docker image (OCI image-spec `config.md`; Docker's
 * is the same document with more fields): what an ACI's app and labels are made
 * from. Docker writes `null` for absent lists and maps; they read as absent here.
 */
import { z } from 'zod';
import { invalid } from '../errors.ts';

export interface ImageRunConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  /** Keys like `80/tcp`; the values are empty objects. */
  ExposedPorts?: Record<string, object>;
  Volumes?: Record<string, object>;
  Labels?: Record<string, string>;
}

export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  created?: string;
  author?: string;
  config: ImageRunConfig;
  /** The digests of the uncompressed layers, in order. */
  diffIds?: string[];
}

// null, as Docker writes it, is the same as absent.
const maybe = <T extends z.ZodType>(schema: T) => schema.nullish().transform((v) => v ?? undefined);
const emptyObjects = z.record(z.string(), z.looseObject({}));

const runConfig = z.looseObject({
  User: maybe(z.string()),
  Env: maybe(z.array(z.string())),
  Entrypoint: maybe(z.array(z.string())),
  Cmd: maybe(z.array(z.string())),
  WorkingDir: maybe(z.string()),
  ExposedPorts: maybe(emptyObjects),
  Volumes: maybe(emptyObjects),
  Labels: maybe(z.record(z.string(), z.string())),
});

const imageConfig = z.looseObject({
  architecture: z.string({ error: 'is required' }).min(1, { error: 'is required' }),
  os: z.string({ error: 'is required' }).min(1, { error: 'is required' }),
  variant: maybe(z.string()),
  created: maybe(z.string()),
  author: maybe(z.string()),
  config: maybe(runConfig),
  rootfs: maybe(z.looseObject({ type: z.string(), diff_ids: z.array(z.string()) })),
});

/** Reads an image config blob; throws UPSTREAM_MANIFEST_INVALID naming the field at fault. */
export function parseImageConfig(bytes: Buffer, digest = 'the image config'): ImageConfig {
  const where = digest.startsWith('sha256:') ? `image config ${digest}` : digest;
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw invalid('UPSTREAM_MANIFEST_INVALID', `${where} is not JSON (${(error as Error).message}); the upstream image is damaged`);
  }
  const result = imageConfig.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = issue.path.length > 0 ? issue.path.join('.') : '(top)';
    throw invalid('UPSTREAM_MANIFEST_INVALID', `${where} is not valid: ${path} ${issue.message}; the upstream image is damaged`);
  }
  const c = result.data;
  const run: ImageRunConfig = {};
  for (const key of ['User', 'Env', 'Entrypoint', 'Cmd', 'WorkingDir', 'ExposedPorts', 'Volumes', 'Labels'] as const) {
    const value = c.config?.[key];
    if (value !== undefined) (run as Record<string, unknown>)[key] = value;
  }
  return {
    architecture: c.architecture,
    os: c.os,
    ...(c.variant === undefined ? {} : { variant: c.variant }),
    ...(c.created === undefined ? {} : { created: c.created }),
    ...(c.author === undefined ? {} : { author: c.author }),
    config: run,
    ...(c.rootfs === undefined ? {} : { diffIds: c.rootfs.diff_ids }),
  };
}
