// InfoNCE (van den Oord et al. 2018, "Representation Learning with Contrastive Predictive Coding"), in
// the two forms contrastive SSL uses: MoCo v3's / SimCLR's in-batch negatives (row i's positive is
// key i, the other keys are its negatives) and MoCo v1/v2's queue of negatives (the positive first,
// then every row of the queue). Cross entropy over the similarity logits divided by the temperature,
// averaged over rows. Query and key are L2-normalised here unless the caller says they already are;
// the queue is used as given (unit rows, off the gradient tape: the caller's stopGradient).
import * as tf from '@tensorflow/tfjs-core';
import { l2Normalize } from '../nn/l2-normalize.js';

export interface InfoNceOptions {
  /** Softmax temperature (MoCo v3's 0.2, MoCo v2's 0.2, SimCLR's 0.1-0.5). */
  temperature: number;
  /** [K, C] negatives shared by every row; without it the batch's other keys are the negatives. */
  queue?: tf.Tensor2D;
  /** Query and key are unit rows already (default false: they are normalised here). */
  normalized?: boolean;
}

/**
 * The InfoNCE loss of `query` against `key` ([N, C] each, row i of key is row i's positive) and the
 * logits it was computed from: [N, N] with the positives on the diagonal, or [N, 1 + K] with the
 * positive in column 0 when a queue is given. New tensors.
 *
 * @example
 * const { loss } = infoNce(q, stopGradient(k), { temperature: 0.2 });            // MoCo v3 (times 2T there)
 * const { loss } = infoNce(q, k, { temperature: 0.2, queue, normalized: true }); // MoCo v2
 */
export function infoNce(query: tf.Tensor2D, key: tf.Tensor2D, options: InfoNceOptions): { loss: tf.Scalar; logits: tf.Tensor2D } {
  const { temperature, queue } = options;
  if (query.shape.join() !== key.shape.join()) throw new Error(`infoNce: query [${query.shape}] and key [${key.shape}] differ`);
  if (!(temperature > 0)) throw new Error(`infoNce: temperature must be > 0, got ${temperature}`);
  if (queue && queue.shape[1] !== query.shape[1]) throw new Error(`infoNce: queue [${queue.shape}] for queries [${query.shape}]`);
  return tf.tidy(() => {
    const q = options.normalized ? query : l2Normalize(query);
    const k = options.normalized ? key : l2Normalize(key);
    if (queue) {
      const logits = tf.div(tf.concat([tf.sum(tf.mul(q, k), 1, true), tf.matMul(q, queue, false, true)], 1), temperature) as tf.Tensor2D;
      const loss = tf.mean(tf.sub(tf.logSumExp(logits, 1, true), tf.slice(logits, [0, 0], [-1, 1]))) as tf.Scalar;
      return { loss, logits };
    }
    const n = q.shape[0];
    const logits = tf.div(tf.matMul(q, k, false, true), temperature) as tf.Tensor2D;
    const loss = tf.neg(tf.div(tf.sum(tf.mul(tf.logSoftmax(logits), tf.eye(n))), n)) as tf.Scalar;
    return { loss, logits };
  });
}
