// Projection and prediction heads: a stack of linear layers with optional batch norm and an activation
// between them, named as torch's nn.Sequential names its modules (layer l's linear is `<prefix>.<i>`
// where i counts every module before it: Linear, [BatchNorm1d], activation), so state dicts line up
// with the reference implementations. Initialisation schemes are chosen by name, as timm does:
//   'torch-default'   nn.Linear's own: weight and bias U(+-1/sqrt(fan_in))  (MoCo v2/v3 heads)
//   'xavier-uniform'  xavier-uniform weight, zero bias                      (MAE, MOCA)
//   'trunc-normal'    N(0, 0.02) truncated to [-2, 2], timm's trunc_normal_(std=.02); zero bias (DINO, iBOT)
// Batch norm layers start at scale 1 and shift 0.
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../util/rng.js';
import { batchNorm } from './batch-norm.js';
import { gelu } from './gelu.js';
import { linear } from './linear.js';
import { makeVariable, param, xavierUniform, type ParamTree, type VariableTree } from './params.js';

export type LinearInit = 'torch-default' | 'xavier-uniform' | 'trunc-normal';

export interface MlpHeadConfig {
  /** Widths: input, hidden..., output (at least two). */
  dims: readonly number[];
  /** Linear layers with a bias (default true). */
  bias?: boolean;
  /** Batch norm after every hidden linear (affine), and `'all'` also after the last (no affine, as MoCo v3). */
  batchNorm?: 'none' | 'hidden' | 'all';
  activation?: 'relu' | 'gelu';
  init: LinearInit;
}

function modulesPerLayer(c: MlpHeadConfig): number {
  return (c.batchNorm ?? 'none') === 'none' ? 2 : 3;
}

/** Values of one [fanIn, fanOut] weight and its [fanOut] bias under a named scheme (weight drawn first). */
export function linearInit(init: LinearInit, rng: Rng, fanIn: number, fanOut: number, bias: boolean): { weight: Float32Array; bias?: Float32Array | 'zeros' } {
  if (init === 'torch-default') {
    const b = 1 / Math.sqrt(fanIn);
    const weight = rng.uniformArray(fanIn * fanOut, -b, b);
    return bias ? { weight, bias: rng.uniformArray(fanOut, -b, b) } : { weight };
  }
  const weight = init === 'xavier-uniform' ? xavierUniform(rng, fanIn, fanOut) : rng.truncatedNormalArray(fanIn * fanOut, 0, 0.02, -2, 2);
  return bias ? { weight, bias: 'zeros' } : { weight };
}

/**
 * A head's variables: `<prefix>.<i>.weight` [in, out] (and `.bias`) per linear, `<prefix>.<i+1>.weight`
 * and `.bias` per affine batch norm. Weights are drawn layer by layer, each before its bias.
 *
 * @example createMlpHead('head', { dims: [384, 4096, 4096, 256], bias: false, batchNorm: 'all', init: 'torch-default' }, rng, 'mocov3')
 */
export function createMlpHead(prefix: string, c: MlpHeadConfig, rng: Rng, owner: string): VariableTree {
  if (c.dims.length < 2 || c.dims.some((d) => !Number.isInteger(d) || d < 1)) throw new Error(`createMlpHead '${prefix}': dims must be >= 2 positive integers, got [${c.dims}]`);
  const v: VariableTree = {};
  const per = modulesPerLayer(c);
  const layers = c.dims.length - 1;
  for (let l = 0; l < layers; l++) {
    const name = `${prefix}.${per * l}`;
    const [d1, d2] = [c.dims[l]!, c.dims[l + 1]!];
    const init = linearInit(c.init, rng, d1, d2, c.bias ?? true);
    v[`${name}.weight`] = makeVariable(owner, `${name}.weight`, [d1, d2], init.weight);
    if (init.bias) v[`${name}.bias`] = makeVariable(owner, `${name}.bias`, [d2], init.bias);
    if (per === 3 && l < layers - 1) {
      v[`${prefix}.${per * l + 1}.weight`] = makeVariable(owner, `${prefix}.${per * l + 1}.weight`, [d2], 'ones');
      v[`${prefix}.${per * l + 1}.bias`] = makeVariable(owner, `${prefix}.${per * l + 1}.bias`, [d2], 'zeros');
    }
  }
  return v;
}

/** The head on x [N, dims[0]] -> [N, dims.at(-1)]; batch norm on the batch statistics of x. A new tensor. */
export function mlpHeadForward(prefix: string, c: MlpHeadConfig, params: ParamTree, x: tf.Tensor2D): tf.Tensor2D {
  const per = modulesPerLayer(c);
  const layers = c.dims.length - 1;
  const act = c.activation === 'gelu' ? gelu : tf.relu;
  return tf.tidy(() => {
    let h = x;
    for (let l = 0; l < layers; l++) {
      const name = `${prefix}.${per * l}`;
      h = linear(h, param(params, `${name}.weight`), params[`${name}.bias`]) as tf.Tensor2D;
      const last = l === layers - 1;
      if (per === 3 && !last) h = batchNorm(h, param(params, `${prefix}.${per * l + 1}.weight`), param(params, `${prefix}.${per * l + 1}.bias`));
      if (per === 3 && last && c.batchNorm === 'all') h = batchNorm(h);
      if (!last) h = act(h) as tf.Tensor2D;
    }
    return h;
  });
}
