// The checkpoint reader for methods that build on other checkpoints while they are created (MOMA's
// teachers and student initialisation, in its async create()). Core has no file system: Node's entry
// (`@maskedssl/core/node`) installs a reader of checkpoint folders and files; a browser app installs its
// own, e.g. one that reads the checkpoints the user picked.
import type { LoadedCheckpoint } from './checkpoint-format.js';

type Reader = (path: string) => LoadedCheckpoint | Promise<LoadedCheckpoint>;
let reader: Reader | undefined;

/** Installs the reader (the last one installed wins). */
export function setCheckpointReader(read: Reader): void {
  reader = read;
}

/** Reads the checkpoint `path` names, through the installed reader. */
export async function readCheckpoint(path: string): Promise<LoadedCheckpoint> {
  if (!reader) throw new Error(`no checkpoint reader to read ${path}: in Node, import '@maskedssl/core/node' (it installs one); elsewhere call setCheckpointReader`);
  return await reader(path);
}
