// A correction to tfjs-backend-webgpu 4.22's matMul. For a small output with a long shared dimension
// (one batch, K >= 2000, few 32x32 tiles) it picks MatMulSplitKProgram, which reads B four columns at
// a time even when B is transposed, and returns wrong numbers for matMul(a, b, _, transposeB = true):
// seen at [8, 2048] x [256, 2048]^T (max relative error 1.4), which is dA = dy B^T, the gradient of
// every [N, K] x [K, C] product with N small and K large (iBOT's 2048 prototypes). The packed program
// turns its vec4 reads off for a transposed B; the split-K one does not. Until tfjs fixes it, the
// BatchMatMul and _FusedMatMul kernels of the webgpu backend transpose B themselves in that one case
// and multiply without transposeB. Every other product runs the package's kernel unchanged.
import * as tf from '@tensorflow/tfjs-core';

/** tfjs-backend-webgpu's MatMulProgramType.MatMulSplitKProgram (WEBGPU_MATMUL_PROGRAM_TYPE). */
const SPLIT_K = 1;

type MatMulInputs = { a: tf.TensorInfo; b: tf.TensorInfo };
type MatMulAttrs = { transposeA: boolean; transposeB: boolean };

/** Whether the package's batchMatMulImpl would run this product as MatMulSplitKProgram (its own rule). */
export function usesSplitK(aShape: readonly number[], bShape: readonly number[], transposeA: boolean, transposeB: boolean, backendThreshold: number): boolean {
  const forced = tf.env().getNumber('WEBGPU_MATMUL_PROGRAM_TYPE');
  if (forced >= 0) return forced === SPLIT_K;
  const [ra, rb] = [aShape.length, bShape.length];
  const outerA = transposeA ? aShape[ra - 1]! : aShape[ra - 2]!;
  const outerB = transposeB ? bShape[rb - 2]! : bShape[rb - 1]!;
  const inner = transposeB ? bShape[rb - 1]! : bShape[rb - 2]!;
  const size = (s: readonly number[]) => s.reduce((x, y) => x * y, 1);
  const batch = Math.max(size(aShape.slice(0, -2)), size(bShape.slice(0, -2)));
  const flag = tf.env().getNumber('WEBGPU_THRESHOLD_TO_INCREASE_WORKGROUPS_FOR_MATMUL');
  const threshold = flag > 0 ? flag : backendThreshold;
  const tiles = batch * Math.ceil(outerA / 32) * Math.ceil(outerB / 32);
  const fewTiles = tiles <= threshold || (outerA <= 8 && tiles <= threshold * 2);
  return fewTiles && batch * outerA * outerB > 128 && batch === 1 && inner >= 2000;
}

/** Wraps the webgpu backend's BatchMatMul and _FusedMatMul kernels (once; call after the package registered them). */
export function correctWebGpuMatMul(): void {
  const transpose = tf.getKernel('Transpose', 'webgpu');
  if (!transpose) return;
  for (const name of ['BatchMatMul', '_FusedMatMul']) {
    const kernel = tf.getKernel(name, 'webgpu');
    if (!kernel || (kernel.kernelFunc as { corrected?: boolean }).corrected) continue;
    const original = kernel.kernelFunc;
    const kernelFunc: tf.KernelFunc = (args) => {
      const { a, b } = args.inputs as unknown as MatMulInputs;
      const attrs = args.attrs as unknown as MatMulAttrs;
      const threshold = (args.backend as { thresholdToIncreaseWorkgroups?: number }).thresholdToIncreaseWorkgroups ?? 0;
      if (!attrs.transposeB || !usesSplitK(a.shape, b.shape, attrs.transposeA, true, threshold)) return original(args);
      const perm = b.shape.map((_, i) => i);
      [perm[perm.length - 2], perm[perm.length - 1]] = [perm[perm.length - 1]!, perm[perm.length - 2]!];
      const bT = transpose.kernelFunc({ inputs: { x: b } as never, backend: args.backend, attrs: { perm } as never }) as tf.TensorInfo;
      try {
        return original({ ...args, inputs: { ...args.inputs, b: bT } as never, attrs: { ...args.attrs, transposeB: false } as never });
      } finally {
        (args.backend as { disposeData(id: object): void }).disposeData(bT.dataId);
      }
    };
    (kernelFunc as { corrected?: boolean }).corrected = true;
    tf.unregisterKernel(name, 'webgpu');
    tf.registerKernel({ ...kernel, kernelFunc });
  }
}
