// TensorFlow ops that tfjs does not expose, run directly through tfjs-node's backend when the
// backend is native TensorFlow ('tensorflow'), else as a tfjs composite. A direct call bypasses the
// tfjs gradient tape: use these only inside a tf.customGrad forward or gradient function (or where
// nothing is differentiated). The returned tensor is tracked by the enclosing tf.tidy as usual.
// Also the fused inference ops, oneDNN's MatMul + BiasAdd [+ exact GELU] and its one-op LayerNorm,
// allowed only inside `inferenceScope` and never under a gradient tape. The first needs list(string)
// attributes, which tfjs-node's binding takes only when patched (scripts/patch-tfjs-binding.mjs,
// run by setup:native); both are probed once per backend and replaced by tfjs ops when absent.
import * as tf from '@tensorflow/tfjs-core';
import { layerNorm } from './layer-norm.js';

interface NodeBackend {
  binding: { TF_ATTR_TYPE: number; TF_ATTR_BOOL: number; TF_ATTR_INT: number; TF_ATTR_FLOAT: number; TF_ATTR_STRING: number; TF_FLOAT: number };
  executeSingleOutput(name: string, attrs: { name: string; type: number; value: unknown }[], inputs: tf.Tensor[]): tf.Tensor;
}

function nodeBackend(): NodeBackend | null {
  return tf.getBackend() === 'tensorflow' ? (tf.backend() as unknown as NodeBackend) : null;
}

/** erfc(x) = 1 - erf(x) for float32 x: TensorFlow's Erfc (accurate for large x), else 1 - erf(x). */
export function erfc(x: tf.Tensor): tf.Tensor {
  const be = nodeBackend();
  if (!be) return tf.sub(1, tf.erf(x));
  return be.executeSingleOutput('Erfc', [{ name: 'T', type: be.binding.TF_ATTR_TYPE, value: be.binding.TF_FLOAT }], [x]);
}

/**
 * a [M, K] (or [K, M] with transposeA) times b [K, N] (or [N, K]) for float32 2-D tensors: TensorFlow's
 * MatMul (tfjs routes every matMul through BatchMatMulV2 on [1, M, K], 5-10% slower here), else tf.matMul.
 */
export function matMul2d(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor2D {
  const be = nodeBackend();
  if (!be) return tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, transposeA, transposeB);
  const { TF_ATTR_TYPE, TF_ATTR_BOOL, TF_FLOAT } = be.binding;
  return be.executeSingleOutput(
    'MatMul',
    [
      { name: 'T', type: TF_ATTR_TYPE, value: TF_FLOAT },
      { name: 'transpose_a', type: TF_ATTR_BOOL, value: transposeA },
      { name: 'transpose_b', type: TF_ATTR_BOOL, value: transposeB },
    ],
    [a, b],
  ) as tf.Tensor2D;
}

let fusedOpsEnabled = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.MASKEDSSL_FUSED_OPS !== '0';
let inferenceDepth = 0;
const matMulSupport = new WeakMap<object, boolean>();
const layerNormSupport = new WeakMap<object, boolean>();

/**
 * Turns the fused inference ops on or off (default on; MASKEDSSL_FUSED_OPS=0 starts with them off).
 * Off, inference runs exactly the ops training runs. For tests and A/B measurements.
 */
export function setFusedOps(enabled: boolean): void {
  fusedOpsEnabled = enabled;
}

/** Runs `f` with the fused inference ops allowed (they still never run under a gradient tape). */
export function inferenceScope<T>(f: () => T): T {
  inferenceDepth++;
  try {
    return f();
  } finally {
    inferenceDepth--;
  }
}

/** True when nothing being computed can be differentiated: no tf.grad / variableGrads is recording. */
function tapeOff(): boolean {
  return tf.engine().state.gradientDepth === 0;
}

/** Runs `probe` once per backend (cached); a throw or a wrong value means the op is not available. */
function probed(cache: WeakMap<object, boolean>, be: NodeBackend, probe: (be: NodeBackend) => boolean): boolean {
  let ok = cache.get(be);
  if (ok === undefined) {
    let result = false;
    try {
      tf.tidy(() => {
        result = probe(be);
      });
    } catch {
      result = false;
    }
    ok = result;
    cache.set(be, ok);
  }
  return ok;
}

/**
 * The native backend when the fused inference ops may run now: inside `inferenceScope`, outside any
 * gradient tape, enabled, on native TensorFlow whose binding runs `_MklNativeFusedMatMul`.
 */
function fusedBackend(): NodeBackend | null {
  const be = inferenceBackend();
  return be && probed(matMulSupport, be, probeFusedMatMul) ? be : null;
}

/** The native backend when inference ops may run now: inside `inferenceScope`, enabled, no gradient tape. */
function inferenceBackend(): NodeBackend | null {
  return inferenceDepth > 0 && fusedOpsEnabled && tapeOff() ? nodeBackend() : null;
}

/** Whether the fused inference path is taken here and now (see `fusedBackend`). */
export function fusedInference(): boolean {
  return fusedBackend() !== null;
}

function runFusedMatMul(be: NodeBackend, a: tf.Tensor, b: tf.Tensor, bias: tf.Tensor, fusedOps: string[]): tf.Tensor2D {
  const { TF_ATTR_TYPE, TF_ATTR_BOOL, TF_ATTR_INT, TF_ATTR_FLOAT, TF_ATTR_STRING, TF_FLOAT } = be.binding;
  // oneDNN's kernel (TensorFlow registers it under the label its graph rewrite sets; eager execution
  // finds it through the same `_kernel` attribute). TensorFlow's own eager `_FusedMatMul` kernel has
  // no GELU fusion ("Fusion is not implemented: [BiasAdd,GeluExact]" in 2.21). `is_filter_const`
  // stays false: true would let oneDNN cache the reordered weight across calls with other weights.
  return be.executeSingleOutput(
    '_MklNativeFusedMatMul',
    [
      { name: 'T', type: TF_ATTR_TYPE, value: TF_FLOAT },
      { name: 'transpose_a', type: TF_ATTR_BOOL, value: false },
      { name: 'transpose_b', type: TF_ATTR_BOOL, value: false },
      { name: 'num_args', type: TF_ATTR_INT, value: 1 },
      { name: 'fused_ops', type: TF_ATTR_STRING, value: fusedOps },
      { name: 'epsilon', type: TF_ATTR_FLOAT, value: 1e-4 },
      { name: 'leakyrelu_alpha', type: TF_ATTR_FLOAT, value: 0.2 },
      { name: 'is_filter_const', type: TF_ATTR_BOOL, value: false },
      { name: '_kernel', type: TF_ATTR_STRING, value: 'MklNameChangeOp' },
    ],
    [a, b, bias],
  ) as tf.Tensor2D;
}

/** Checks both fusions on [1, 2] x [2, 1] + 0.5: z = 1.5, GELU(1.5) = 1.5 Phi(1.5) = 1.39978919. */
function probeFusedMatMul(be: NodeBackend): boolean {
  const a = tf.tensor2d([[1, 2]]);
  const b = tf.tensor2d([[0.5], [0.25]]);
  const bias = tf.tensor1d([0.5]);
  const expect = (t: tf.Tensor, v: number) => Math.abs(t.dataSync()[0]! - v) < 1e-5;
  return expect(runFusedMatMul(be, a, b, bias, ['BiasAdd']), 1.5) && expect(runFusedMatMul(be, a, b, bias, ['BiasAdd', 'GeluExact']), 1.39978919);
}

/**
 * a [M, K] b [K, N] + bias [N] [then exact GELU, x Phi(x) as torch.nn.GELU()] for float32 2-D
 * tensors: one oneDNN kernel inside `inferenceScope` on a native backend with the patched binding;
 * elsewhere (and always under a gradient tape) tf.matMul + tf.add [+ GELU through tf.erf], differentiable.
 */
export function fusedMatMul(a: tf.Tensor, b: tf.Tensor, bias: tf.Tensor, activation?: 'gelu'): tf.Tensor2D {
  const be = fusedBackend();
  if (be) return runFusedMatMul(be, a, b, bias, activation === 'gelu' ? ['BiasAdd', 'GeluExact'] : ['BiasAdd']);
  return tf.tidy(() => {
    const z = tf.add(tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D), bias);
    return (activation === 'gelu' ? tf.mul(tf.mul(z, 0.5), tf.add(1, tf.erf(tf.mul(z, Math.SQRT1_2)))) : z) as tf.Tensor2D;
  });
}

function runLayerNorm(be: NodeBackend, x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: number): tf.Tensor {
  const { TF_ATTR_TYPE, TF_ATTR_FLOAT, TF_FLOAT } = be.binding;
  return be.executeSingleOutput(
    '_MklLayerNorm',
    [
      { name: 'T', type: TF_ATTR_TYPE, value: TF_FLOAT },
      { name: 'epsilon', type: TF_ATTR_FLOAT, value: eps },
    ],
    [x, weight, bias],
  );
}

/** Checks the op on [1, 3] = [1, 2, 3]: xhat = [-1, 0, 1] sqrt(3/2) (eps 0), times 2, plus 1. */
function probeLayerNorm(be: NodeBackend): boolean {
  const y = runLayerNorm(be, tf.tensor2d([[1, 2, 3]]), tf.tensor1d([2, 2, 2]), tf.tensor1d([1, 1, 1]), 0).dataSync();
  const s = 2 * Math.sqrt(1.5);
  return [1 - s, 1, 1 + s].every((v, i) => Math.abs(y[i]! - v) < 1e-5);
}

/**
 * LayerNorm over the last axis, (x - mean) / sqrt(var + eps) * weight + bias: oneDNN's one-op
 * `_MklLayerNorm` inside `inferenceScope` on the native backend (never under a gradient tape), else
 * `layerNorm` (layer-norm.ts, differentiable).
 */
export function fusedLayerNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: number): tf.Tensor {
  const be = inferenceBackend();
  if (be && probed(layerNormSupport, be, probeLayerNorm)) return runLayerNorm(be, x, weight, bias, eps);
  return layerNorm(x, weight, bias, eps);
}
