// MOCA's two prediction losses, both KL(target || softmax(logits)) averaged over rows (torch's
// F.kl_div(log_softmax(pred), target, reduction='batchmean') with 0 * log 0 = 0):
//   - image level: each masked view's embedding predicts the OTHER view's bag of words, rows = 2B;
//   - token level: the decoder predicts the SAME view's teacher codes at every position it scores,
//     rows = 2B * (|V| + |M|).
// Each is averaged over the two masking rounds and multiplied by 2 (the reference's
// `stack(...).mean() * 2`, moca.ts), then total = imageWeight * image + tokenWeight * token.
// When both rounds' positions come out of one packed decoder row, the same value is a weighted sum
// over rows (weightedKlDivergence): weight 1 / (rows of its round) for each row of that round.
// The KL has a hand-written gradient: with lse = logsumexp(logits) per row, T = the row sums of the
// target (1 for distributions) and w the row weights (1 / rows for the mean),
//   KL = sum_rows w * (sum t log t - sum t * logits + T * lse),  dKL/dlogits = w * (T softmax - t),
// a handful of ops on the [rows, K] tensors where autodiff through logSoftmax takes about twice as
// many. The target is a constant (the teacher's codes): it gets no gradient.
import * as tf from '@tensorflow/tfjs-core';

const klRows = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [target, logits, weights] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
  const save = args[3] as tf.GradSaveFunc;
  const max = tf.max(logits, 1, true);
  const exp = tf.exp(tf.sub(logits, max));
  const sumExp = tf.sum(exp, 1, true);
  const lse = tf.add(tf.log(sumExp), max); // [rows, 1]
  const rowMass = tf.sum(target, 1, true); // [rows, 1]
  const logTarget = tf.log(tf.maximum(target, 1e-30)); // only multiplied by target: 0 where target is 0
  const perRow = tf.add(tf.sum(tf.mul(target, tf.sub(logTarget, logits)), 1, true), tf.mul(rowMass, lse)); // [rows, 1]
  const value = tf.sum(tf.mul(perRow, weights)) as tf.Scalar;
  save([target, exp, sumExp, rowMass, weights]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [t, e, s, m, w] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
      const dLogits = tf.mul(tf.sub(tf.mul(e, tf.div(m, s)), t), tf.mul(w, dy));
      return [tf.zerosLike(t), dLogits, tf.zerosLike(w)];
    },
  };
}) as (target: tf.Tensor2D, logits: tf.Tensor2D, weights: tf.Tensor2D) => tf.Scalar;

function checkShapes(fn: string, target: tf.Tensor, logits: tf.Tensor): void {
  if (target.shape.join() !== logits.shape.join()) throw new Error(`${fn}: target [${target.shape}] and logits [${logits.shape}] differ`);
}

function rowsOf(x: tf.Tensor): tf.Tensor2D {
  const k = x.shape[x.rank - 1]!;
  return x.rank === 2 ? (x as tf.Tensor2D) : (tf.reshape(x, [-1, k]) as tf.Tensor2D);
}

/** Mean over rows of KL(target || softmax(logits)); target and logits [..., K]; target is a constant. */
export function klDivergence(target: tf.Tensor, logits: tf.Tensor): tf.Scalar {
  checkShapes('klDivergence', target, logits);
  return tf.tidy(() => {
    const t = rowsOf(target);
    return klRows(t, rowsOf(logits), tf.fill([1, 1], 1 / t.shape[0]));
  });
}

/**
 * sum over rows of weight * KL(target || softmax(logits)); target and logits [..., K], weights the
 * leading shape ([...], one per row); target and weights are constants.
 */
export function weightedKlDivergence(target: tf.Tensor, logits: tf.Tensor, weights: tf.Tensor): tf.Scalar {
  checkShapes('weightedKlDivergence', target, logits);
  if (weights.shape.join() !== target.shape.slice(0, -1).join()) {
    throw new Error(`weightedKlDivergence: weights [${weights.shape}] must be the target's leading shape [${target.shape.slice(0, -1)}]`);
  }
  return tf.tidy(() => klRows(rowsOf(target), rowsOf(logits), tf.reshape(weights, [-1, 1])));
}
