/**
 * The platform an image config says it is for. The config itself is read and typed by the
 * upstream client (src/upstream/image-config.ts), for every source of images alike.
 */
import type { ImageConfig } from '../upstream/image-config.ts';
import type { Platform } from './image-source.ts';

export const configPlatform = (c: Pick<ImageConfig, 'os' | 'architecture' | 'variant'>): Platform =>
  c.variant === undefined || c.variant === ''
    ? { os: c.os, architecture: c.architecture }
    : { os: c.os, architecture: c.architecture, variant: c.variant };
