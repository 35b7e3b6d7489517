// MOCA's two prediction losses, both KL(target || softmax(logits)) averaged over rows (torch's
// F.kl_div(log_softmax(pred), target, reduction='batchmean') with 0 * log 0 = 0):
//   - image level: each masked view's embedding predicts the OTHER view's bag of words, rows = 2B;
//   - token level: the decoder predicts the SAME view's teacher codes at every position it scores,
//     rows = 2B * (|V| + |M|).
// Each is averaged over the two masking rounds and multiplied by 2 (the reference's
// `stack(...).mean() * 2`), then total = imageWeight * image + tokenWeight * token.
// The KL has a hand-written gradient: with lse = logsumexp(logits) per row and T = the row sums of
// the target (1 for distributions),
//   KL = (sum t log t - sum t * logits + sum_rows T * lse) / rows,  dKL/dlogits = (T softmax - t) / rows,
// a handful of ops on the [rows, K] tensors where autodiff through logSoftmax takes about twice as
// many. The target is a constant (the teacher's codes): it gets no gradient.
import * as tf from '@tensorflow/tfjs-core';

const klRows = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [target, logits] = args as [tf.Tensor2D, tf.Tensor2D];
  const save = args[2] as tf.GradSaveFunc;
  const rows = target.shape[0];
  const max = tf.max(logits, 1, true);
  const exp = tf.exp(tf.sub(logits, max));
  const sumExp = tf.sum(exp, 1, true);
  const lse = tf.add(tf.log(sumExp), max); // [rows, 1]
  const rowMass = tf.sum(target, 1, true); // [rows, 1]
  const logTarget = tf.log(tf.maximum(target, 1e-30)); // only multiplied by target: 0 where target is 0
  const crossTerms = tf.sum(tf.mul(target, tf.sub(logTarget, logits)));
  const value = tf.div(tf.add(crossTerms, tf.sum(tf.mul(rowMass, lse))), rows) as tf.Scalar;
  save([target, exp, sumExp, rowMass]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [t, e, s, m] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
      const scale = tf.div(dy, rows);
      const dLogits = tf.mul(tf.sub(tf.mul(e, tf.div(m, s)), t), scale);
      return [tf.zerosLike(t), dLogits];
    },
  };
}) as (target: tf.Tensor2D, logits: tf.Tensor2D) => tf.Scalar;

/** Mean over rows of KL(target || softmax(logits)); target and logits [..., K]; target is a constant. */
export function klDivergence(target: tf.Tensor, logits: tf.Tensor): tf.Scalar {
  if (target.shape.join() !== logits.shape.join()) throw new Error(`klDivergence: target [${target.shape}] and logits [${logits.shape}] differ`);
  return tf.tidy(() => {
    const k = target.shape[target.rank - 1]!;
    const flat = (x: tf.Tensor) => (x.rank === 2 ? (x as tf.Tensor2D) : (tf.reshape(x, [-1, k]) as tf.Tensor2D));
    return klRows(flat(target), flat(logits));
  });
}

/** The reference's round aggregation: mean over rounds, times 2. */
export function aggregateRounds(perRound: tf.Scalar[]): tf.Scalar {
  return tf.tidy(() => tf.mul(tf.mean(tf.stack(perRound)), 2) as tf.Scalar);
}
