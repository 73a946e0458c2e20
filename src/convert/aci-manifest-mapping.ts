/**
 * A Docker/OCI image config as an appc image manifest, by the rules docker2aci
 * follows (`lib/internal/internal.go` GenerateManifestV22 and its helpers), so
 * rkt users meet the same manifest they would have converted themselves:
 *
 * - labels `version`, `os`, `arch` (arch in appc's names: `aarch64`, not `arm64`);
 * - `app.exec` is Entrypoint then Cmd; with neither the image has no `app`;
 * - `User` `u` runs as `u`/`u`, `u:g` as `u`/`g`, none as `0`/`0`;
 * - `Env` `NAME=value` (a later NAME replaces an earlier one; a string without `=` is dropped);
 * - ports `80/tcp` and bare `80` (tcp) become `80-tcp`, volumes `/var/lib/x` the mount
 *   point `volume-var-lib-x`; both sorted by name, a repeated name numbered `-1`, `-2`;
 * - annotations `author`, `created` and docker2aci's `appc.io/docker/...` ones, of
 *   which `imageid` is the config digest (Docker's image ID) and `manifesthash` the
 *   manifest digest. Docker's labels go to `app.userLabels` (appc >= 0.8.10).
 *
 * Where docker2aci would write a manifest appc refuses (an environment name with a
 * space, a port that is no number), this refuses the image instead.
 */
import { invalid } from '../errors.ts';
import { imageManifestSchema } from '../aci/manifest-schema.ts';
import type { ImageManifest } from '../aci/manifest-schema.ts';
import { configPlatform } from './docker-image-config.ts';
import type { ImageConfig, ImageRunConfig } from '../upstream/image-config.ts';
import { appcPlatform } from './platforms.ts';

/** The appc spec version of the manifests written here, as every manifest of this repository. */
export const AC_VERSION = '0.8.11';

/** Where the image came from, for its annotations. */
export interface ImageOrigin {
  /** `registry-1.docker.io`, `quay.io`, `localhost:5000`. */
  registry: string;
  /** `library/alpine`. */
  repository: string;
  tag?: string;
  /** The image manifest's digest (that of the platform's manifest, not the index's). */
  manifestDigest: string;
  configDigest: string;
}

export interface AciManifestInput {
  /** The ACI's name, an AC Identifier. */
  name: string;
  version: string;
  config: ImageConfig;
  source: ImageOrigin;
}

/** docker2aci's annotation names (`lib/common/common.go`). */
export const DOCKER_ANNOTATIONS = {
  originalName: 'appc.io/docker/originalname',
  registryUrl: 'appc.io/docker/registryurl',
  repository: 'appc.io/docker/repository',
  tag: 'appc.io/docker/tag',
  imageId: 'appc.io/docker/imageid',
  entrypoint: 'appc.io/docker/entrypoint',
  cmd: 'appc.io/docker/cmd',
  manifestHash: 'appc.io/docker/manifesthash',
} as const;

interface NameValue {
  name: string;
  value: string;
}

function unconvertible(what: string): never {
  throw invalid('CONVERT_CONFIG_UNCONVERTIBLE', `the image config cannot be converted to an appc manifest: ${what}`);
}

/** appc's SanitizeACName, plus folding repeated dashes, which an AC Name cannot hold. */
export function sanitizeAcName(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** Numbers names seen before (`x`, `x-1`, `x-2`), then sorts by name, as docker2aci does. */
function uniqueSorted<T extends { name: string }>(items: T[]): T[] {
  const seen = new Map<string, number>();
  const taken = new Set(items.map((i) => i.name));
  for (const item of items) {
    const n = seen.get(item.name);
    if (n === undefined) {
      seen.set(item.name, 1);
      continue;
    }
    let i = n;
    while (taken.has(`${item.name}-${i}`)) i++;
    seen.set(item.name, i + 1);
    item.name = `${item.name}-${i}`;
    taken.add(item.name);
  }
  return items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** `User`: `name`, `uid`, `uid:gid`, `name:group`; a user without a group also names the group (docker2aci). */
export function userAndGroup(user: string | undefined): { user: string; group: string } {
  if (user === undefined || user === '') return { user: '0', group: '0' };
  const [u = '', g] = user.split(':');
  if (u === '') unconvertible(`the user ${JSON.stringify(user)} names no user`);
  return { user: u, group: g === undefined || g === '' ? u : g };
}

const ENV_NAME = /^[A-Za-z0-9_.-]+$/;

function environment(env: readonly string[] | undefined): NameValue[] {
  const byName = new Map<string, string>();
  for (const line of env ?? []) {
    const at = line.indexOf('=');
    if (at === -1) continue; // Docker passes such a name through from the host; an image has no value for it
    const name = line.slice(0, at);
    if (!ENV_NAME.test(name)) unconvertible(`the environment variable ${JSON.stringify(name.slice(0, 80))} has a name appc cannot hold`);
    byName.set(name, line.slice(at + 1));
  }
  return [...byName].map(([name, value]) => ({ name, value }));
}

interface AppcPort {
  name: string;
  protocol: string;
  port: number;
}

function ports(exposed: ImageRunConfig['ExposedPorts']): AppcPort[] {
  const byName = new Map<string, AppcPort>();
  for (const key of Object.keys(exposed ?? {})) {
    const m = /^(\d{1,5})(?:\/([a-z0-9]+))?$/i.exec(key);
    const port = m === null ? NaN : Number(m[1]);
    if (m === null || port < 1 || port > 65535)
      unconvertible(`the exposed port ${JSON.stringify(key.slice(0, 80))} is not PORT or PORT/PROTOCOL`);
    const protocol = (m[2] ?? 'tcp').toLowerCase();
    const name = sanitizeAcName(`${port}/${protocol}`);
    byName.set(name, { name, protocol, port }); // `80` and `80/tcp` are one port
  }
  return uniqueSorted([...byName.values()]);
}

function mountPoints(volumes: ImageRunConfig['Volumes']): { name: string; path: string }[] {
  const points = Object.keys(volumes ?? {}).map((path) => {
    if (!path.startsWith('/')) unconvertible(`the volume ${JSON.stringify(path.slice(0, 80))} is not an absolute path`);
    return { name: sanitizeAcName(`volume/${path}`), path };
  });
  return uniqueSorted(points);
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function annotations(c: ImageConfig, source: ImageOrigin): NameValue[] {
  const run = c.config;
  const reference = source.tag !== undefined && source.tag !== '' ? `:${source.tag}` : `@${source.manifestDigest}`;
  const list: [string, string | undefined][] = [
    ['author', c.author],
    // appc checks `created` as RFC 3339; a config with another format (or none) leaves it out.
    ['created', c.created !== undefined && RFC3339.test(c.created) ? c.created : undefined],
    [DOCKER_ANNOTATIONS.originalName, `${source.registry}/${source.repository}${reference}`],
    [DOCKER_ANNOTATIONS.registryUrl, source.registry],
    [DOCKER_ANNOTATIONS.repository, source.repository],
    [DOCKER_ANNOTATIONS.tag, source.tag],
    [DOCKER_ANNOTATIONS.imageId, source.configDigest],
    [DOCKER_ANNOTATIONS.manifestHash, source.manifestDigest],
    [DOCKER_ANNOTATIONS.entrypoint, run.Entrypoint?.length ? JSON.stringify(run.Entrypoint) : undefined],
    [DOCKER_ANNOTATIONS.cmd, run.Cmd?.length ? JSON.stringify(run.Cmd) : undefined],
  ];
  // docker2aci sets only non-empty values.
  return list.filter((a): a is [string, string] => a[1] !== undefined && a[1] !== '').map(([name, value]) => ({ name, value }));
}

function app(run: ImageRunConfig): Record<string, unknown> | undefined {
  const exec = [...(run.Entrypoint ?? []), ...(run.Cmd ?? [])];
  if (exec.length === 0) return undefined;
  const { user, group } = userAndGroup(run.User);
  const out: Record<string, unknown> = { exec, user, group };
  if (run.WorkingDir) {
    if (!run.WorkingDir.startsWith('/'))
      unconvertible(`the working directory ${JSON.stringify(run.WorkingDir.slice(0, 80))} is not absolute`);
    out.workingDirectory = run.WorkingDir;
  }
  const env = environment(run.Env);
  if (env.length > 0) out.environment = env;
  const mounts = mountPoints(run.Volumes);
  if (mounts.length > 0) out.mountPoints = mounts;
  const exposed = ports(run.ExposedPorts);
  if (exposed.length > 0) out.ports = exposed;
  if (run.Labels !== undefined && Object.keys(run.Labels).length > 0) out.userLabels = { ...run.Labels };
  return out;
}

/**
 * The ACI image manifest of a Docker/OCI image. Throws CONVERT_PLATFORM_UNNAMEABLE
 * for a platform appc has no name for, CONVERT_CONFIG_UNCONVERTIBLE for a config
 * value appc cannot hold, and MANIFEST_INVALID should the result still fail
 * the schema pushes are checked against (a name that is no AC Identifier, say).
 */
export function aciManifest(input: AciManifestInput): ImageManifest {
  const { os, arch } = appcPlatform(configPlatform(input.config));
  const manifest: Record<string, unknown> = {
    acKind: 'ImageManifest',
    acVersion: AC_VERSION,
    name: input.name,
    labels: [
      { name: 'version', value: input.version },
      { name: 'os', value: os },
      { name: 'arch', value: arch },
    ],
  };
  const runnable = app(input.config.config);
  if (runnable !== undefined) manifest.app = runnable;
  manifest.annotations = annotations(input.config, input.source);
  const parsed = imageManifestSchema.safeParse(manifest);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw invalid('MANIFEST_INVALID', `the converted manifest is invalid at ${issue.path.join('.')}: ${issue.message}`);
  }
  // The object as built, not zod's output: that one fills Go's zero values in.
  return manifest as ImageManifest;
}
