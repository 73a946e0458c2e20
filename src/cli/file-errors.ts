import { readFile } from 'node:fs/promises';
import { usageError } from './args.ts';

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  ELOOP: 'too many symbolic links',
};

const hasReason = (e: unknown): e is NodeJS.ErrnoException => Object.hasOwn(REASONS, (e as NodeJS.ErrnoException)?.code ?? '');

/** A file system error about a path (as opposed to a bug): worth one line, not a stack. */
export const isFileError = (e: unknown): e is NodeJS.ErrnoException & { path: string } => hasReason(e) && typeof e.path === 'string';

export const fileErrorReason = (e: NodeJS.ErrnoException) => REASONS[e.code!] ?? e.message;

/** Reads a file named on the command line; a missing or unreadable one is a usage error, exit 2. */
export async function readArgumentFile(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    // Reading a directory fails without naming the path: the code is enough here.
    if (!hasReason(e)) throw e;
    throw usageError(`cannot read the ${what} ${path}: ${fileErrorReason(e)}`);
  }
}
