/**
 * Every file the function and the command line read (a kubeconfig and the files it names, token files, CA bundles, the
 * service account's files) is a regular file of at most 4 MiB, read here. `--kubeconfig /dev/zero` once read until RSS
 * reached 6 GiB, and a FIFO would hang the run. 4 MiB is the OCI distribution spec's suggested manifest bound, and far
 * above any of these files: a kubeconfig with dozens of embedded certificates is some hundreds of KiB, the public CA
 * bundle about 220 KiB, a token a few KiB.
 */
import type { Stats } from 'node:fs';
import { fs } from './builtins.js';

export const LOCAL_FILE_LIMIT = 4 * 1024 * 1024;

/** Why a file was not read, in a few words (an errno code, or which bound it broke); never its content. */
export class LocalFileError extends Error {
  readonly why: string;
  constructor(file: string, why: string) {
    super(`${file}: ${why}`);
    this.name = 'LocalFileError';
    this.why = why;
  }
}

/** The short reason for any error a read here raised: `why`, the errno code, or 'error'. */
export function unreadableBecause(error: unknown): string {
  if (error instanceof LocalFileError) return error.why;
  return (error as NodeJS.ErrnoException | undefined)?.code ?? 'error';
}

function refuseUnusable(file: string, stats: Stats): void {
  if (!stats.isFile()) throw new LocalFileError(file, 'not a regular file');
  if (stats.size > LOCAL_FILE_LIMIT) throw new LocalFileError(file, `larger than ${LOCAL_FILE_LIMIT / 1024 / 1024} MiB`);
}

/**
 * Checks that `file` is one we would read, without reading it (for files a library reads itself). Opened with O_NONBLOCK, so
 * a FIFO answers at once instead of waiting for a writer.
 */
export function checkLocalFile(file: string): void {
  const { openSync, fstatSync, closeSync, constants } = fs();
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    refuseUnusable(file, fstatSync(fd));
  } finally {
    closeSync(fd);
  }
}

/** The file's text; a file that grew past the bound after it was measured is refused all the same. */
export function readLocalFile(file: string): string {
  const { openSync, fstatSync, readSync, closeSync, constants } = fs();
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stats = fstatSync(fd);
    refuseUnusable(file, stats);
    // Sized by what fstat says (some files say 0), grown while more comes, never past the bound plus the byte that breaks it.
    let buffer = Buffer.allocUnsafe(Math.min(LOCAL_FILE_LIMIT, Math.max(stats.size, 64 * 1024)) + 1);
    let length = 0;
    for (let read = -1; read !== 0; length += read) {
      if (length === buffer.length) {
        if (length > LOCAL_FILE_LIMIT) throw new LocalFileError(file, `larger than ${LOCAL_FILE_LIMIT / 1024 / 1024} MiB`);
        const grown = Buffer.allocUnsafe(Math.min(LOCAL_FILE_LIMIT + 1, buffer.length * 2));
        buffer.copy(grown);
        buffer = grown;
      }
      read = readSync(fd, buffer, length, buffer.length - length, null);
    }
    return buffer.toString('utf8', 0, length);
  } finally {
    closeSync(fd);
  }
}
