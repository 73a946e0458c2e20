/**
 * What the conversion reads of a Docker/OCI image config (OCI image-spec
 * `config.md`, Docker's `image/spec/v1.2.md`). The upstream client parses the
 * config blob; whatever it parses into maps onto this, field for field.
 */
import type { Platform } from './image-source.ts';

/** The `config` object of an image config: how its container runs. */
export interface DockerRunConfig {
  User?: string;
  /** `NAME=value` strings. */
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  /** Keys `80/tcp`, `53/udp` or a bare `80`; the values are empty objects. */
  ExposedPorts?: Record<string, unknown>;
  /** Keys are absolute paths; the values are empty objects. */
  Volumes?: Record<string, unknown>;
  Labels?: Record<string, string>;
}

export interface DockerImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  config?: DockerRunConfig;
  /** RFC 3339. */
  created?: string;
  author?: string;
}

/** The platform an image config says it is for. */
export const configPlatform = (c: DockerImageConfig): Platform =>
  c.variant === undefined || c.variant === ''
    ? { os: c.os, architecture: c.architecture }
    : { os: c.os, architecture: c.architecture, variant: c.variant };
