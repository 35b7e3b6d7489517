// The checkpoint format, as bytes (no file system here: Node's folders are in node/checkpoint-dir.ts,
// the browser downloads and reads files). A checkpoint is `tensors.safetensors` plus `state.json`
// (format, version, step, the tensors' SHA-256 and shapes, and the trainer's JSON state). A
// single-file form carries the same state.json text in the safetensors metadata under `maskedssl`,
// for a one-file download; the tensor bytes then need no separate hash.
import type * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { decodeSafetensors, encodeSafetensors, tensorsToSafetensors, type SafetensorsTensor } from '../io/safetensors.js';

export const CHECKPOINT_FORMAT = 'maskedssl-checkpoint';
export const CHECKPOINT_TENSORS_FILE = 'tensors.safetensors';
export const CHECKPOINT_STATE_FILE = 'state.json';
/** The safetensors metadata key of a single-file checkpoint. */
const METADATA_KEY = 'maskedssl';

const StateFile = z.object({
  format: z.literal(CHECKPOINT_FORMAT),
  version: z.literal(1),
  step: z.number().int().nonnegative(),
  tensorsSha256: z.string().regex(/^[0-9a-f]{64}$/),
  tensorShapes: z.record(z.string(), z.array(z.number().int().nonnegative())),
  state: z.record(z.string(), z.unknown()),
});
type StateFile = z.infer<typeof StateFile>;

export interface LoadedCheckpoint {
  /** Where it came from (a checkpoint folder, a file name). */
  path: string;
  step: number;
  /** Tensor values by name, as stored. */
  tensors: Record<string, SafetensorsTensor>;
  /** The JSON state given when it was written. */
  state: Record<string, unknown>;
  /** The tensors file's SHA-256 as recorded (two-file checkpoints). */
  tensorsSha256?: string;
}

export function checkpointName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

/** SHA-256 of bytes as hex (WebCrypto: Node 20+ and every current browser). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The two files of a checkpoint, read from the tensors (not disposed). */
export async function encodeCheckpoint(
  step: number,
  tensors: Record<string, tf.Tensor>,
  state: Record<string, unknown>,
): Promise<{ tensorsBytes: Uint8Array; stateJson: string }> {
  const tensorsBytes = await tensorsToSafetensors(tensors);
  const file: StateFile = {
    format: CHECKPOINT_FORMAT,
    version: 1,
    step,
    tensorsSha256: await sha256Hex(tensorsBytes),
    tensorShapes: Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, t.shape.slice()])),
    state,
  };
  return { tensorsBytes, stateJson: JSON.stringify(file, null, 1) };
}

/** Both files as one safetensors file (the state.json text in its metadata). */
export function singleFileCheckpoint(files: { tensorsBytes: Uint8Array; stateJson: string }, source = 'checkpoint'): Uint8Array {
  const decoded = decodeSafetensors(files.tensorsBytes, source);
  return encodeSafetensors(decoded.tensors, { ...decoded.metadata, [METADATA_KEY]: files.stateJson });
}

/**
 * Verifies and decodes a checkpoint's two files; `sha256` is the tensors file's hash (computed by the
 * caller, which may do it synchronously). Errors name `source` and what is wrong.
 */
export function parseCheckpoint(tensorsBytes: Uint8Array, stateJson: string, sha256: string, source: string): LoadedCheckpoint {
  const file = parseStateFile(stateJson, source);
  if (sha256 !== file.tensorsSha256) {
    throw new Error(`checkpoint ${source}: ${CHECKPOINT_TENSORS_FILE} does not match the hash recorded in ${CHECKPOINT_STATE_FILE} (corrupt or modified)`);
  }
  return { ...fromDecoded(decodeSafetensors(tensorsBytes, `${source}/${CHECKPOINT_TENSORS_FILE}`).tensors, file, source), tensorsSha256: sha256 };
}

/** True when the safetensors bytes are a single-file checkpoint. */
export function isSingleFileCheckpoint(bytes: Uint8Array, source = 'safetensors data'): boolean {
  return METADATA_KEY in decodeSafetensors(bytes, source).metadata;
}

/** Decodes a single-file checkpoint (see singleFileCheckpoint). */
export function parseSingleFileCheckpoint(bytes: Uint8Array, source: string): LoadedCheckpoint {
  const decoded = decodeSafetensors(bytes, source);
  const stateJson = decoded.metadata[METADATA_KEY];
  if (stateJson === undefined) throw new Error(`checkpoint ${source}: a safetensors file without maskedssl checkpoint metadata (a weights export?)`);
  return fromDecoded(decoded.tensors, parseStateFile(stateJson, source), source);
}

function parseStateFile(stateJson: string, source: string): StateFile {
  let json: unknown;
  try {
    json = JSON.parse(stateJson);
  } catch (e) {
    throw new Error(`checkpoint ${source}: ${CHECKPOINT_STATE_FILE} is not valid JSON (${(e as Error).message})`);
  }
  const parsed = StateFile.safeParse(json);
  if (!parsed.success) {
    throw new Error(`checkpoint ${source}: ${CHECKPOINT_STATE_FILE} is not a maskedssl checkpoint (${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')})`);
  }
  return parsed.data;
}

function fromDecoded(tensors: Record<string, SafetensorsTensor>, file: StateFile, source: string): LoadedCheckpoint {
  const expected = file.tensorShapes;
  for (const name of new Set([...Object.keys(expected), ...Object.keys(tensors)])) {
    const a = expected[name];
    const b = tensors[name]?.shape;
    if (!a || !b || a.join(',') !== b.join(',')) {
      throw new Error(`checkpoint ${source}: tensor '${name}' is [${b ?? 'missing'}] in ${CHECKPOINT_TENSORS_FILE} but [${a ?? 'missing'}] in ${CHECKPOINT_STATE_FILE}`);
    }
  }
  return { path: source, step: file.step, tensors, state: file.state };
}
