// MOCA's two prediction losses, both KL(target || softmax(logits)) averaged over rows (torch's
// F.kl_div(log_softmax(pred), target, reduction='batchmean') with 0 * log 0 = 0):
//   - image level: each masked view's embedding predicts the OTHER view's bag of words, rows = 2B;
//   - token level: the decoder predicts the SAME view's teacher codes at every position it scores,
//     rows = 2B * (|V| + |M|).
// Each is averaged over the two masking rounds and multiplied by 2 (the reference's
// `stack(...).mean() * 2`), then total = imageWeight * image + tokenWeight * token.
import * as tf from '@tensorflow/tfjs-core';

/** Mean over rows of KL(target || softmax(logits)); target and logits [..., K]. */
export function klDivergence(target: tf.Tensor, logits: tf.Tensor): tf.Scalar {
  if (target.shape.join() !== logits.shape.join()) throw new Error(`klDivergence: target [${target.shape}] and logits [${logits.shape}] differ`);
  return tf.tidy(() => {
    const k = target.shape[target.rank - 1]!;
    const rows = target.size / k;
    const logTarget = tf.log(tf.maximum(target, 1e-30)); // only multiplied by target: 0 where target is 0
    const perElement = tf.mul(target, tf.sub(logTarget, tf.logSoftmax(logits, -1)));
    return tf.div(tf.sum(perElement), rows) as tf.Scalar;
  });
}

/** The reference's round aggregation: mean over rounds, times 2. */
export function aggregateRounds(perRound: tf.Scalar[]): tf.Scalar {
  return tf.tidy(() => tf.mul(tf.mean(tf.stack(perRound)), 2) as tf.Scalar);
}
