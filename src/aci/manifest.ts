/**
 * Reading an ACI's image manifest, and the labels this server needs to publish
 * it (appc/spec `spec/aci.md`; what this server accepts: docs/http-api.md#pushing).
 */
import type { z } from 'zod';
import { invalid } from '../errors.ts';
import { nestsDeeperThan } from './json-depth.ts';
import { imageManifestSchema } from './manifest-schema.ts';
import type { ImageManifest } from './manifest-schema.ts';
import { assertLabelFits, assertPublishableVersion, isValidOsArch } from '../names.ts';

export type { ImageManifest } from './manifest-schema.ts';

/** Deeper than any real manifest; shallow enough for any recursive walk. */
const MAX_JSON_DEPTH = 64;
/** Enough problems to fix a manifest by; a hostile one could list thousands. */
const MAX_LISTED_ISSUES = 20;

const FIX_HINT = 'fix the manifest and rebuild the ACI (actool validate checks a manifest)';

/** Renders a zod path as JSON access: manifest.labels[1].name */
function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === 'number') return `${out}[${key}]`;
    const k = String(key);
    return /^[A-Za-z_$][\w$]*$/.test(k) ? `${out}.${k}` : `${out}[${JSON.stringify(k)}]`;
  }, 'manifest');
}

function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  const listed = issues.slice(0, MAX_LISTED_ISSUES).map((i) => `${formatPath(i.path)}: ${i.message}`);
  const more = issues.length - listed.length;
  return listed.join('; ') + (more > 0 ? `; and ${more} more problem(s)` : '');
}

function parseJson(bytes: Buffer): unknown {
  const text = bytes.toString('utf8');
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
    throw invalid('MANIFEST_INVALID', `the manifest nests JSON deeper than ${MAX_JSON_DEPTH} levels; ${FIX_HINT}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const why = e instanceof Error ? e.message.slice(0, 200) : 'parse error';
    throw invalid('MANIFEST_INVALID', `the manifest is not valid JSON (${why}); ${FIX_HINT}`);
  }
}

/** Parses and validates manifest bytes; throws MANIFEST_INVALID naming every problem's path. */
export function parseManifest(bytes: Buffer): ImageManifest {
  const parsed = imageManifestSchema.safeParse(parseJson(bytes));
  if (!parsed.success) {
    throw invalid('MANIFEST_INVALID', `the manifest is invalid: ${describeIssues(parsed.error.issues)}; ${FIX_HINT}`);
  }
  return parsed.data;
}

export interface PublishLabels {
  version: string;
  os: string;
  arch: string;
}

const LABEL_EXAMPLES = { version: '1.0.0', os: 'linux', arch: 'amd64' } as const;

/**
 * The version/os/arch labels a published image must carry: rkt adds os and
 * arch to every fetch by name, and the server files images by all three.
 */
export function publishLabels(m: ImageManifest): PublishLabels {
  const byName = new Map((m.labels ?? []).map((l) => [l.name, l.value]));
  const missing = (['version', 'os', 'arch'] as const).filter((n) => !byName.get(n));
  if (missing.length > 0) {
    const examples = missing.map((n) => JSON.stringify({ name: n, value: LABEL_EXAMPLES[n] })).join(', ');
    throw invalid(
      'MANIFEST_LABEL_MISSING',
      `the manifest lacks the label(s) ${missing.join(', ')}; add them to "labels", e.g. ${examples}`,
    );
  }
  const labels = { version: byName.get('version')!, os: byName.get('os')!, arch: byName.get('arch')! };
  for (const label of ['version', 'os', 'arch'] as const) assertLabelFits(label, labels[label]);
  if (!isValidOsArch(labels.os, labels.arch)) {
    throw invalid(
      'MANIFEST_OS_ARCH_INVALID',
      `os ${JSON.stringify(labels.os.slice(0, 40))} with arch ${JSON.stringify(labels.arch.slice(0, 40))} ` +
        'is not an appc os/arch pair; rkt runs linux with amd64, i386, aarch64, aarch64_be, armv6l, armv7l, ' +
        'armv7b or ppc64le (appc names: "amd64", not "x86_64" or "arm64")',
    );
  }
  assertPublishableVersion(labels.version);
  return labels;
}
