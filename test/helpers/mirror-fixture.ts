/**
 * A server with a pull-through mirror of a real upstream registry: Debian's
 * docker-registry over TLS from a test CA, the standard test images (umoci) pushed into
 * it with skopeo, and acihost as a child process with a server signing key for the
 * mirror's prefix, its secret in the environment as an operator would set it.
 */
import assert from 'node:assert/strict';

import { buildStandardImages } from './oci-images.ts';
import { serverSetup, spawnServer, type ServerProcess, type ServerSetup } from './server.ts';
import { tempDir } from './temp-dir.ts';
import { startUpstreamRegistry, type UpstreamRegistry, type UpstreamRegistryOptions } from './upstream-registry.ts';

export const SIGNING_SECRET = 'mirror-test-signing-secret';
export const MIRROR_PREFIX = 'localhost/mirror/library';

export interface MirrorFixture {
  upstream: UpstreamRegistry;
  /** The OCI layout of the standard images (STANDARD_IMAGES), for pushing more and for the oracle. */
  layout: string;
  setup: ServerSetup;
  server: ServerProcess;
  close(): Promise<void>;
}

/**
 * `upstreams` (beyond the default `HOST/library/*` → MIRROR_PREFIX rule) and `mirrors`
 * settings go into the config file; `keys` are the prefixes given a server signing key.
 */
export async function startMirror(
  opts: {
    upstream?: UpstreamRegistryOptions;
    upstreams?: (upstream: UpstreamRegistry) => Record<string, unknown>[];
    mirrors?: Record<string, unknown>;
    limits?: Record<string, unknown>;
    keys?: string[];
    env?: (upstream: UpstreamRegistry) => Record<string, string>;
  } = {},
): Promise<MirrorFixture> {
  const upstream = await startUpstreamRegistry(opts.upstream);
  const layout = await buildStandardImages(await tempDir('mirror-images-'));
  const rule = { source: `${upstream.host}/library/*`, prefix: MIRROR_PREFIX, caFile: upstream.caFile };
  const setup = await serverSetup({
    env: { ACIHOST_SIGNING_SECRET: SIGNING_SECRET, ...opts.env?.(upstream) },
    config: {
      mirrors: { upstreams: opts.upstreams?.(upstream) ?? [rule], ...opts.mirrors },
      ...(opts.limits ? { limits: opts.limits } : {}),
    },
  });
  for (const prefix of opts.keys ?? ['localhost/mirror']) {
    const made = await setup.cli(['key', 'generate', '--prefix', prefix]);
    assert.equal(made.code, 0, made.stderr);
  }
  const server = await spawnServer(setup);
  return {
    upstream,
    layout,
    setup,
    server,
    async close() {
      await server.stop();
      await upstream.stop();
    },
  };
}

/** The URL path of an image file: `/-/aci/NAME/VERSION/OS/ARCH.aci`. */
export const aciPath = (name: string, version: string, ext: 'aci' | 'aci.asc' = 'aci', arch = 'amd64') =>
  `/-/aci/${name}/${version}/linux/${arch}.${ext}`;
