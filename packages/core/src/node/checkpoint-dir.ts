// Checkpoints on disk (Node): one folder per step, `<dir>/step-00000123/` holding `tensors.safetensors`
// and `state.json` (train/checkpoint-format.ts). A checkpoint is written into a hidden `.partial-*`
// folder, synced, then renamed into place, so a killed write never damages the previous one; the last
// `keep` checkpoints are kept. Loading (async, or sync for methods that read checkpoints while being
// created) verifies the format, the hash and the tensor list, and also reads a single-file checkpoint
// (one .safetensors file, as the browser playground downloads).
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import {
  CHECKPOINT_STATE_FILE, CHECKPOINT_TENSORS_FILE, checkpointName, encodeCheckpoint, parseCheckpoint, parseSingleFileCheckpoint,
  type LoadedCheckpoint,
} from '../train/checkpoint-format.js';
import { setCheckpointReader } from '../train/checkpoint-reader.js';

const STEP_DIR = /^step-(\d{8})$/;

/** A checkpoint that cannot be read: `reason` says why, `path` what was asked for. */
export class CheckpointError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`checkpoint ${path}: ${reason}`);
    this.name = 'CheckpointError';
  }
}

async function writeSynced(path: string, bytes: Uint8Array | string): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const d = await open(dir, 'r');
    await d.sync().finally(() => d.close());
  } catch {
    // Not every platform can fsync a folder; the rename is still atomic.
  }
}

/**
 * Writes `<dir>/step-XXXXXXXX/` atomically and keeps only the newest `keep` checkpoints.
 * The tensors are read (asynchronously) but not disposed. Returns the checkpoint folder.
 */
export async function saveCheckpoint(
  dir: string,
  step: number,
  tensors: Record<string, tf.Tensor>,
  state: Record<string, unknown>,
  { keep = 3 }: { keep?: number } = {},
): Promise<string> {
  if (!Number.isInteger(keep) || keep < 1) throw new Error(`saveCheckpoint: keep must be an integer >= 1, got ${keep}`);
  await mkdir(dir, { recursive: true });
  const { tensorsBytes, stateJson } = await encodeCheckpoint(step, tensors, state);
  const final = join(dir, checkpointName(step));
  const partial = join(dir, `.partial-${checkpointName(step)}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(partial);
    await writeSynced(join(partial, CHECKPOINT_TENSORS_FILE), tensorsBytes);
    await writeSynced(join(partial, CHECKPOINT_STATE_FILE), stateJson);
    await syncDir(partial);
    await rm(final, { recursive: true, force: true }); // a checkpoint of the same step is replaced
    await rename(partial, final);
    await syncDir(dir);
  } catch (e) {
    await rm(partial, { recursive: true, force: true }).catch(() => undefined);
    throw new Error(`writing checkpoint ${final}: ${(e as Error).message}`, { cause: e });
  }
  const all = await listCheckpoints(dir);
  for (const old of all.slice(0, Math.max(0, all.length - keep))) await rm(old.path, { recursive: true, force: true });
  // Leftovers of writes that were killed before their rename.
  for (const name of await readdir(dir)) {
    if (name.startsWith('.partial-')) await rm(join(dir, name), { recursive: true, force: true });
  }
  return final;
}

function stepFolders(dir: string, names: string[]): { path: string; step: number }[] {
  return names
    .map((n) => ({ n, m: STEP_DIR.exec(n) }))
    .filter((x): x is { n: string; m: RegExpExecArray } => x.m !== null)
    .map(({ n, m }) => ({ path: join(dir, n), step: Number(m[1]) }))
    .sort((a, b) => a.step - b.step);
}

/** Complete checkpoints in `dir`, oldest first (a missing folder has none). */
export async function listCheckpoints(dir: string): Promise<{ path: string; step: number }[]> {
  try {
    return stepFolders(dir, await readdir(dir));
  } catch {
    return [];
  }
}

/** What `path` names: a single-file checkpoint, or the checkpoint folder to read (the newest there). */
function resolve(path: string): { file: string } | { dir: string } {
  if (!existsSync(path)) throw new CheckpointError(path, 'no such file or folder');
  if (statSync(path).isFile() && path.endsWith('.safetensors')) return { file: path };
  if (STEP_DIR.test(basename(path))) return { dir: path };
  for (const where of [path, join(path, 'checkpoints')]) {
    let names: string[] = [];
    try {
      names = readdirSync(where);
    } catch {
      continue; // not a folder
    }
    const newest = stepFolders(where, names).pop();
    if (newest) return { dir: newest.path };
  }
  throw new CheckpointError(path, 'no checkpoint folder (step-XXXXXXXX) found there or in its checkpoints/');
}

function decode(where: { file: string } | { dir: string }, read: (name: string) => Buffer): LoadedCheckpoint {
  const bytes = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if ('file' in where) return parseSingleFileCheckpoint(bytes(read(where.file)), where.file);
  const tensors = read(join(where.dir, CHECKPOINT_TENSORS_FILE));
  const state = read(join(where.dir, CHECKPOINT_STATE_FILE)).toString('utf8');
  return parseCheckpoint(bytes(tensors), state, createHash('sha256').update(tensors).digest('hex'), where.dir);
}

function cannotRead(where: { file: string } | { dir: string }, file: string, e: unknown): CheckpointError {
  const path = 'file' in where ? where.file : where.dir;
  return new CheckpointError(path, `cannot read ${basename(file)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
}

/**
 * Loads and verifies a checkpoint. `path` is a checkpoint folder, a folder of checkpoints or a run
 * folder with a `checkpoints/` folder (then the newest is taken), or a single-file checkpoint
 * (.safetensors). Errors name the folder and what is wrong (missing file, bad JSON, wrong format, hash
 * mismatch, tensor list differing from the one recorded).
 */
export async function loadCheckpoint(path: string): Promise<LoadedCheckpoint> {
  const where = resolve(path);
  const files = 'file' in where ? [where.file] : [CHECKPOINT_TENSORS_FILE, CHECKPOINT_STATE_FILE].map((f) => join(where.dir, f));
  const contents = new Map<string, Buffer>();
  for (const f of files) {
    try {
      contents.set(f, await readFile(f));
    } catch (e) {
      throw cannotRead(where, f, e);
    }
  }
  return decode(where, (f) => contents.get(f)!);
}

// Methods that build on other checkpoints (MOMA's teachers) read them through core's reader.
setCheckpointReader(loadCheckpoint);
