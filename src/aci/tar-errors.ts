/** Turns tar-stream's untyped parse failures into our coded errors. */
import { invalid, isAcihostError } from '../errors.ts';
import type { AcihostError } from '../errors.ts';

const REBUILD = 're-create the ACI and upload it again';

export function tarError(e: unknown): AcihostError {
  if (isAcihostError(e)) return e;
  const message = e instanceof Error ? e.message : String(e);
  // tar-stream says this when the data stops inside a header or an entry's body.
  if (message === 'Unexpected end of data') {
    return invalid('ARCHIVE_TRUNCATED', `the tar archive ends in the middle of an entry; ${REBUILD}`, e);
  }
  return invalid('ARCHIVE_CORRUPT', `the tar data is not a valid archive (${message.slice(0, 120)}); ${REBUILD}`, e);
}
