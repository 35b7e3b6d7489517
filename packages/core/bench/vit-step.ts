// The benchmark ViT step shared by vit-throughput.ts and profile-step.ts (and, through
// vit-throughput, bench/peers at the repository root): vit-tiny/4 on random 28x28x1 images, a linear
// head on average-pooled features, softmax cross-entropy, backward, AdamW with the splitDecay groups.
import * as tf from '@tensorflow/tfjs-core';
import { linear } from '../src/nn/linear.js';
import { makeVariable, xavierUniform, type VariableTree } from '../src/nn/params.js';
import { AdamW } from '../src/optim/adamw.js';
import { splitDecay } from '../src/optim/param-groups.js';
import { valueAndGrads } from '../src/optim/value-and-grads.js';
import { vitConfig, type VitConfig } from '../src/vit/config.js';
import { createVit, vitForward, vitFeatures } from '../src/vit/vit.js';
import { Rng } from '../src/util/rng.js';

export interface VitStep {
  config: VitConfig;
  params: VariableTree;
  /** The loss of the current batch (what valueAndGrads differentiates). */
  loss: () => tf.Scalar;
  /** One AdamW update from `grads` (not disposed). */
  update: (grads: Record<string, tf.Tensor>) => void;
  /** One whole training step, loss read back. */
  train: () => Promise<void>;
  /** One forward to features (an inference forward: fused ops on the native backend), read back. */
  infer: () => Promise<void>;
  dispose: () => void;
}

/** Builds the step on the current backend. */
export function makeVitStep(batch: number): VitStep {
  const config = vitConfig('vit-tiny/4');
  const rng = new Rng(0);
  const vit = createVit(config, rng);
  const params: VariableTree = {
    ...vit.params,
    'head.weight': makeVariable('head', 'weight', [config.embedDim, 10], xavierUniform(rng, config.embedDim, 10)),
    'head.bias': makeVariable('head', 'bias', [10], 'zeros'),
  };
  const optimizer = new AdamW(splitDecay(params));
  const images = tf.tensor4d(rng.uniformArray(batch * 28 * 28), [batch, 28, 28, 1]);
  const labels = tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 10), 'int32'), 10));

  const loss = () =>
    tf.tidy(() => {
      const feats = vitFeatures(config, vitForward(config, params, images).tokens);
      return tf.losses.softmaxCrossEntropy(labels, linear(feats, params['head.weight']!, params['head.bias'])) as tf.Scalar;
    });
  const update = (grads: Record<string, tf.Tensor>) => optimizer.step(grads, { lr: 1e-4, weightDecay: 0.05 });
  return {
    config,
    params,
    loss,
    update,
    train: async () => {
      const { value, grads } = valueAndGrads(loss, params);
      update(grads);
      tf.dispose(grads);
      await value.data();
      value.dispose();
    },
    infer: async () => {
      const feats = tf.tidy(() => vitFeatures(config, vitForward(config, params, images, { inference: true }).tokens));
      await feats.data();
      feats.dispose();
    },
    dispose: () => {
      optimizer.dispose();
      tf.dispose([images, labels, ...Object.values(params)]);
    },
  };
}
