// Checkpoints on disk: one folder per step, `<dir>/step-00000123/` holding `tensors.safetensors` and
// `state.json` (JSON state plus the tensors file's SHA-256). A checkpoint is written into a hidden
// `.partial-*` folder, synced, then renamed into place, so a killed write never damages the previous
// one; the last `keep` checkpoints are kept. Loading verifies the format, the hash and the tensor list.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { decodeSafetensors, tensorsToSafetensors, type SafetensorsTensor } from '../io/safetensors.js';

const FORMAT = 'maskedssl-checkpoint';
const TENSORS_FILE = 'tensors.safetensors';
const STATE_FILE = 'state.json';
const STEP_DIR = /^step-(\d{8})$/;

const StateFile = z.object({
  format: z.literal(FORMAT),
  version: z.literal(1),
  step: z.number().int().nonnegative(),
  tensorsSha256: z.string().regex(/^[0-9a-f]{64}$/),
  tensorShapes: z.record(z.string(), z.array(z.number().int().nonnegative())),
  state: z.record(z.string(), z.unknown()),
});

export interface LoadedCheckpoint {
  /** The checkpoint folder. */
  path: string;
  step: number;
  /** Tensor values by name, as stored. */
  tensors: Record<string, SafetensorsTensor>;
  /** The JSON state given to saveCheckpoint. */
  state: Record<string, unknown>;
}

export function checkpointName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
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
  const bytes = await tensorsToSafetensors(tensors);
  const file: z.infer<typeof StateFile> = {
    format: FORMAT,
    version: 1,
    step,
    tensorsSha256: createHash('sha256').update(bytes).digest('hex'),
    tensorShapes: Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, t.shape.slice()])),
    state,
  };
  const json = JSON.stringify(file, null, 1);
  const final = join(dir, checkpointName(step));
  const partial = join(dir, `.partial-${checkpointName(step)}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(partial);
    await writeSynced(join(partial, TENSORS_FILE), bytes);
    await writeSynced(join(partial, STATE_FILE), json);
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

/** Complete checkpoints in `dir`, oldest first (a missing folder has none). */
export async function listCheckpoints(dir: string): Promise<{ path: string; step: number }[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return names
    .map((n) => ({ n, m: STEP_DIR.exec(n) }))
    .filter((x): x is { n: string; m: RegExpExecArray } => x.m !== null)
    .map(({ n, m }) => ({ path: join(dir, n), step: Number(m[1]) }))
    .sort((a, b) => a.step - b.step);
}

/**
 * Loads and verifies a checkpoint. `path` is a checkpoint folder, a folder of checkpoints or a run
 * folder with a `checkpoints/` folder (then the newest is taken). Errors name the folder and what is wrong (missing file, bad JSON, wrong format,
 * hash mismatch, tensor list differing from the one recorded).
 */
export async function loadCheckpoint(path: string): Promise<LoadedCheckpoint> {
  let dir = path;
  if (!STEP_DIR.test(path.split(/[\\/]/).filter(Boolean).pop() ?? '')) {
    // A folder of checkpoints, or a run folder holding one in `checkpoints/`.
    let all = await listCheckpoints(path);
    if (all.length === 0) all = await listCheckpoints(join(path, 'checkpoints'));
    const newest = all[all.length - 1];
    if (!newest) throw new Error(`checkpoint ${path}: no checkpoint folder (step-XXXXXXXX) found there or in its checkpoints/`);
    dir = newest.path;
  }
  const read = async (name: string) => {
    try {
      return await readFile(join(dir, name));
    } catch (e) {
      throw new Error(`checkpoint ${dir}: cannot read ${name} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  };
  let parsedJson: unknown;
  try {
    parsedJson = JSON.parse((await read(STATE_FILE)).toString('utf8'));
  } catch (e) {
    if ((e as Error).message.startsWith('checkpoint ')) throw e;
    throw new Error(`checkpoint ${dir}: ${STATE_FILE} is not valid JSON (${(e as Error).message})`);
  }
  const parsed = StateFile.safeParse(parsedJson);
  if (!parsed.success) {
    throw new Error(`checkpoint ${dir}: ${STATE_FILE} is not a maskedssl checkpoint (${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')})`);
  }
  const bytes = await read(TENSORS_FILE);
  const hash = createHash('sha256').update(bytes).digest('hex');
  if (hash !== parsed.data.tensorsSha256) {
    throw new Error(`checkpoint ${dir}: ${TENSORS_FILE} does not match the hash recorded in ${STATE_FILE} (corrupt or modified)`);
  }
  const decoded = decodeSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), join(dir, TENSORS_FILE));
  const expected = parsed.data.tensorShapes;
  const names = new Set([...Object.keys(expected), ...Object.keys(decoded.tensors)]);
  for (const name of names) {
    const a = expected[name];
    const b = decoded.tensors[name]?.shape;
    if (!a || !b || a.join(',') !== b.join(',')) {
      throw new Error(`checkpoint ${dir}: tensor '${name}' is [${b ?? 'missing'}] in ${TENSORS_FILE} but [${a ?? 'missing'}] in ${STATE_FILE}`);
    }
  }
  return { path: dir, step: parsed.data.step, tensors: decoded.tensors, state: parsed.data.state };
}
