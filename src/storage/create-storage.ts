import { resolve } from 'node:path';
import type { Config } from '../config/schema.ts';
import { CheckedStorage } from './checked-storage.ts';
import { FsStorage } from './fs-storage.ts';
import { S3Storage } from './s3-storage.ts';
import type { Storage } from './storage.ts';

/** Picks the backend named by `storage.backend`. */
export function createStorage(config: Config): Storage {
  switch (config.storage.backend) {
    case 'fs':
      return new CheckedStorage(new FsStorage(resolve(config.storage.dir)));
    case 's3':
      return new CheckedStorage(new S3Storage(config.storage.s3));
  }
}
