// noGrad: runs a computation with tfjs's gradient tape paused (torch's `with torch.no_grad()`), for
// the forward passes whose outputs are targets only: EMA teachers, momentum encoders, key branches.
// Nothing computed inside is recorded, so an enclosing tf.grad / variableGrads neither keeps its
// intermediate tensors alive nor walks them in the backward pass, and the outputs are constants to it:
// what is read only inside gets no gradient entry at all (stopGradient instead stays connected and
// gives a zero). Being outside the tape also lets `inferenceScope`'s fused native ops run there
// (native-ops.ts). `f` must be synchronous: the tape is back on when it returns.
import * as tf from '@tensorflow/tfjs-core';

/** Runs `f` with the gradient tape off; its results are constants to any enclosing gradient. */
export function noGrad<T>(f: () => T): T {
  const state = tf.engine().state;
  const depth = state.gradientDepth;
  if (depth === 0) return f();
  // A tf.grad inside f starts and clears a tape of its own: the enclosing one is put back after.
  const tape = state.activeTape;
  state.gradientDepth = 0;
  try {
    const out = f();
    if (out instanceof Promise) throw new Error('noGrad: f returned a Promise; it must be synchronous (the tape would be back on at its first await)');
    return out;
  } finally {
    state.gradientDepth = depth;
    state.activeTape = tape;
  }
}
