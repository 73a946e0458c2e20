import { createRequire } from 'node:module';
import { extname, resolve } from 'node:path';
import type { Config } from '../config/schema.ts';
import { CheckedStorage } from './checked-storage.ts';
import { FsStorage } from './fs-storage.ts';
import type { Storage } from './storage.ts';

const require = createRequire(import.meta.url);

/**
 * The S3 backend is loaded only when chosen: the AWS SDK costs a filesystem
 * deployment resident memory and a larger heap for every full garbage collection
 * (docs/benchmarks.md#resident-memory). require() of an ES module is synchronous
 * in Node 22+, so creating a backend stays synchronous; the extension follows this
 * module's (.ts from src, .js from dist).
 */
function loadS3(): typeof import('./s3-storage.ts') {
  return require(`./s3-storage${extname(new URL(import.meta.url).pathname)}`) as typeof import('./s3-storage.ts');
}

/** Picks the backend named by `storage.backend`. */
export function createStorage(config: Config): Storage {
  switch (config.storage.backend) {
    case 'fs':
      return new CheckedStorage(new FsStorage(resolve(config.storage.dir)));
    case 's3':
      return new CheckedStorage(new (loadS3().S3Storage)(config.storage.s3));
  }
}
