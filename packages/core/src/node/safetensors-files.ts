// safetensors files (Node): atomic writes (temporary file, fsync, rename) and validated reads; the
// encoding is io/safetensors.ts's.
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { decodeSafetensors, encodeSafetensors, type DecodedSafetensors, type SafetensorsTensor } from '../io/safetensors.js';

/**
 * Writes `bytes` to `path` atomically: a temporary file in the same folder is written, fsynced and renamed
 * over `path`, so readers see the old file or the new one, never a partial one. On failure the temporary
 * file is removed and any existing `path` is left untouched.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(tmp, 'wx');
    await handle.writeFile(bytes);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, path);
  } catch (e) {
    await handle?.close().catch(() => undefined);
    await rm(tmp, { force: true }).catch(() => undefined);
    throw new Error(`writing ${path}: ${(e as Error).message}`, { cause: e });
  }
  // Make the rename itself durable; not every platform can fsync a directory, which is not an error.
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // ignore
  }
}

/** Encodes (before touching the disk) and writes atomically; see writeFileAtomic. */
export async function writeSafetensorsFile(
  path: string,
  tensors: Record<string, SafetensorsTensor>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/** Reads and validates a file; errors name `path`. */
export async function readSafetensorsFile(path: string): Promise<DecodedSafetensors> {
  return decodeSafetensors(await readFile(path), path);
}
