// Parameters as flat records of named tensors. Model code is a set of pure functions of
// (config, params, inputs); a teacher, an export or a checkpoint is just another record with the same
// names. Names follow timm's `VisionTransformer` (`blocks.0.attn.qkv.weight`), but layouts are ours:
// linear weights are [in, out] (what matMul wants), see io/timm.ts for the mapping.
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../util/rng.js';

/** Named tensors read by a forward function (variables of a student, or of a teacher). */
export type ParamTree = Record<string, tf.Tensor>;
/** Named trainable or frozen variables owned by a model. */
export type VariableTree = Record<string, tf.Variable>;

/** The named tensor, or an error naming what is missing. */
export function param(params: ParamTree, name: string): tf.Tensor {
  const t = params[name];
  if (!t) throw new Error(`missing parameter '${name}'`);
  return t;
}

/** Xavier/Glorot uniform values for a [fanIn, fanOut] weight (as torch.nn.init.xavier_uniform_). */
export function xavierUniform(rng: Rng, fanIn: number, fanOut: number, count = fanIn * fanOut): Float32Array {
  const bound = Math.sqrt(6 / (fanIn + fanOut));
  return rng.uniformArray(count, -bound, bound);
}

/** A variable with a stable, prefixed name so several models can live in one process. */
export function makeVariable(
  owner: string,
  name: string,
  shape: number[],
  values: Float32Array | 'zeros' | 'ones',
  trainable = true,
): tf.Variable {
  const size = shape.reduce((a, b) => a * b, 1);
  let data: Float32Array;
  if (values === 'zeros') data = new Float32Array(size);
  else if (values === 'ones') data = new Float32Array(size).fill(1);
  else {
    if (values.length !== size) throw new Error(`${name}: ${values.length} values for shape [${shape}]`);
    data = values;
  }
  return tf.tidy(() => tf.variable(tf.tensor(data, shape, 'float32'), trainable, `${owner}/${name}/${uniqueSuffix()}`));
}

let counter = 0;
function uniqueSuffix(): number {
  return counter++;
}

/** Number of scalar parameters. */
export function countParams(params: ParamTree): number {
  return Object.values(params).reduce((n, t) => n + t.size, 0);
}

/** Dispose every tensor of a record. */
export function disposeParams(params: ParamTree): void {
  for (const t of Object.values(params)) t.dispose();
}

/** Frozen (non-trainable) variable copies of a parameter record, e.g. for an EMA teacher. */
export function cloneAsFrozen(owner: string, params: ParamTree): VariableTree {
  const out: VariableTree = {};
  for (const [name, t] of Object.entries(params)) {
    out[name] = tf.tidy(() => tf.variable(t.clone(), false, `${owner}/${name}/${uniqueSuffix()}`));
  }
  return out;
}

/** Values of a record as plain arrays (for checkpoints and tests). Async: no blocking readback. */
export async function readParams(params: ParamTree): Promise<Record<string, { shape: number[]; data: Float32Array }>> {
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, t] of Object.entries(params)) {
    out[name] = { shape: t.shape.slice(), data: (await t.data()) as Float32Array };
  }
  return out;
}

/** The record with `prefix` before every name (a sub-model's variables inside a method's state dict). */
export function prefixed<T extends tf.Tensor>(prefix: string, tree: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(tree).map(([k, v]) => [`${prefix}${k}`, v]));
}
