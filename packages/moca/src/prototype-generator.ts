// Dynamic prototype generation, MOCA's prediction heads (the reference's BoWPredictor + ResWGEN): the
// classifier weights are generated from the current codebook instead of being learned per word.
//   x = l2norm(W)                                     W: the K words [K, C]
//   P = l2norm( G(x) + S(x) )                         G: Linear(C -> H, no bias) -> BatchNorm over the
//                                                        K words (batch statistics, learnable affine)
//                                                        -> ReLU -> Linear(H -> D, bias)
//                                                     S: identity (image head, C == D) or Linear(C -> D)
//   logits = kappa * f P^T                            f is NOT normalised; kappa is fixed
// The BatchNorm is always in training mode (the generator only runs during pre-training), so it keeps
// no running statistics. Parameters are named `<prefix>.fc1.weight`, `.bn.weight`, `.bn.bias`,
// `.fc2.weight`, `.fc2.bias` and, with a linear skip, `.skip.weight`, `.skip.bias`.
import * as tf from '@tensorflow/tfjs-core';
import { batchNorm, l2Normalize, linear, makeVariable, param, xavierUniform, type ParamTree, type Rng, type VariableTree } from '@maskedssl/core';
import { NORMALIZE_EPS } from './codebook.js';


export interface PrototypeGeneratorConfig {
  /** C: the codebook's dimension (the teacher's width). */
  inDim: number;
  /** H: the hidden width (encoder width * predMlpRatio). */
  hiddenDim: number;
  /** D: the width of the features the prototypes score. */
  outDim: number;
  /** 'identity' needs inDim == outDim. */
  skip: 'identity' | 'linear';
}

/** Names and shapes of a generator's parameters under `prefix`. */
export function prototypeGeneratorShapes(prefix: string, c: PrototypeGeneratorConfig): Record<string, number[]> {
  const shapes: Record<string, number[]> = {
    [`${prefix}.fc1.weight`]: [c.inDim, c.hiddenDim],
    [`${prefix}.bn.weight`]: [c.hiddenDim],
    [`${prefix}.bn.bias`]: [c.hiddenDim],
    [`${prefix}.fc2.weight`]: [c.hiddenDim, c.outDim],
    [`${prefix}.fc2.bias`]: [c.outDim],
  };
  if (c.skip === 'linear') Object.assign(shapes, { [`${prefix}.skip.weight`]: [c.inDim, c.outDim], [`${prefix}.skip.bias`]: [c.outDim] });
  return shapes;
}

/** New generator variables: xavier-uniform linear weights, zero biases, BatchNorm scale 1 and shift 0. */
export function createPrototypeGenerator(prefix: string, c: PrototypeGeneratorConfig, rng: Rng, owner = 'moca'): VariableTree {
  if (c.skip === 'identity' && c.inDim !== c.outDim) {
    throw new Error(`prototype generator '${prefix}': an identity skip needs inDim == outDim, got ${c.inDim} and ${c.outDim}`);
  }
  const params: VariableTree = {};
  for (const [name, shape] of Object.entries(prototypeGeneratorShapes(prefix, c))) {
    const values = shape.length === 2 ? xavierUniform(rng, shape[0]!, shape[1]!) : name.endsWith('bn.weight') ? 'ones' : 'zeros';
    params[name] = makeVariable(owner, name, shape, values);
  }
  return params;
}

/** Unit-norm prototypes [K, D] from the words [K, C]. */
export function generatePrototypes(prefix: string, params: ParamTree, words: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const p = (name: string) => param(params, `${prefix}.${name}`);
    const x = l2Normalize(words, -1, NORMALIZE_EPS);
    let h = linear(x, p('fc1.weight')) as tf.Tensor2D;
    h = tf.relu(batchNorm(h, p('bn.weight'), p('bn.bias')));
    const residual = linear(h, p('fc2.weight'), p('fc2.bias'));
    const skip = `${prefix}.skip.weight` in params ? linear(x, p('skip.weight'), p('skip.bias')) : x;
    return l2Normalize(tf.add(residual, skip), -1, NORMALIZE_EPS) as tf.Tensor2D;
  });
}

/** kappa * features [..., D] @ prototypes^T -> logits [..., K]. */
export function prototypeLogits(features: tf.Tensor, prototypes: tf.Tensor2D, kappa: number): tf.Tensor {
  return tf.tidy(() => {
    const d = prototypes.shape[1];
    const lead = features.shape.slice(0, -1);
    const flat = tf.reshape(features, [-1, d]) as tf.Tensor2D;
    return tf.reshape(linear(flat, tf.mul(tf.transpose(prototypes), kappa)), [...lead, prototypes.shape[0]]);
  });
}
