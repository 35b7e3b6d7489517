// Distillation between distributions: KL(target || softmax(logits)) (MOCA's codes) and the soft cross
// entropy -sum target * log softmax(logits) (DINO's and iBOT's self-distillation). The two differ by
// the target's entropy, a constant: their gradients are the same. Both are averaged over rows, or
// weighted per row (weights constant). The target is a constant (a teacher's): it gets no gradient.
// A hand-written gradient: with lse = logsumexp(logits) per row, T the target's row sums (1 for
// distributions) and w the row weights, d/dlogits = w * (T softmax - target), a handful of ops on the
// [rows, K] tensors where autodiff through logSoftmax takes about twice as many.
import * as tf from '@tensorflow/tfjs-core';

function rowsLoss(withEntropy: boolean) {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [target, logits, weights] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
    const save = args[3] as tf.GradSaveFunc;
    const max = tf.max(logits, 1, true);
    const exp = tf.exp(tf.sub(logits, max));
    const sumExp = tf.sum(exp, 1, true);
    const lse = tf.add(tf.log(sumExp), max); // [rows, 1]
    const rowMass = tf.sum(target, 1, true); // [rows, 1]
    // sum t log t - sum t * logits (KL), or - sum t * logits (cross entropy); 0 log 0 = 0.
    const cross = withEntropy ? tf.sub(tf.log(tf.maximum(target, 1e-30)), logits) : tf.neg(logits);
    const perRow = tf.add(tf.sum(tf.mul(target, cross), 1, true), tf.mul(rowMass, lse)); // [rows, 1]
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
}

const klRows = rowsLoss(true);
const crossEntropyRows = rowsLoss(false);

function checkShapes(fn: string, target: tf.Tensor, logits: tf.Tensor, weights?: tf.Tensor): void {
  if (target.shape.join() !== logits.shape.join()) throw new Error(`${fn}: target [${target.shape}] and logits [${logits.shape}] differ`);
  if (weights && weights.shape.join() !== target.shape.slice(0, -1).join()) {
    throw new Error(`${fn}: weights [${weights.shape}] must be the target's leading shape [${target.shape.slice(0, -1)}]`);
  }
}

function rowsOf(x: tf.Tensor): tf.Tensor2D {
  const k = x.shape[x.rank - 1]!;
  return x.rank === 2 ? (x as tf.Tensor2D) : (tf.reshape(x, [-1, k]) as tf.Tensor2D);
}

function reduce(fn: string, rows: typeof klRows, target: tf.Tensor, logits: tf.Tensor, weights?: tf.Tensor): tf.Scalar {
  checkShapes(fn, target, logits, weights);
  return tf.tidy(() => {
    const t = rowsOf(target);
    return rows(t, rowsOf(logits), weights ? tf.reshape(weights, [-1, 1]) : tf.fill([1, 1], 1 / t.shape[0]));
  });
}

/**
 * KL(target || softmax(logits)) over the last axis of target and logits [..., K], averaged over rows,
 * or summed with `weights` (the leading shape, one per row). torch's
 * F.kl_div(log_softmax(logits), target, reduction='batchmean') for the mean.
 *
 * @example klDivergence(teacherCodes, studentLogits)
 */
export function klDivergence(target: tf.Tensor, logits: tf.Tensor, weights?: tf.Tensor): tf.Scalar {
  return reduce('klDivergence', klRows, target, logits, weights);
}

/**
 * -sum target * log softmax(logits) over the last axis of [..., K], averaged over rows, or summed
 * with `weights` (the leading shape). DINO's and iBOT's loss with target = softmax((t - centre) / tau_t).
 *
 * @example softCrossEntropy(tf.softmax(teacherLogits), studentLogits)
 */
export function softCrossEntropy(target: tf.Tensor, logits: tf.Tensor, weights?: tf.Tensor): tf.Scalar {
  return reduce('softCrossEntropy', crossEntropyRows, target, logits, weights);
}
