// The WebGPU backend against native TensorFlow: a transformer block's forward and every gradient (our
// hand-written attention and GELU gradients included), global-norm clipping over more gradients than a
// shader may bind, the ViT features the harness reads, and the health check that turns WebGPU's
// asynchronous validation errors into a thrown error. On a CPU machine WebGPU runs on SwiftShader
// (VK_ICD_FILENAMES, README "GPU"); without an adapter or tfjs-node the tests skip, saying which.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initBackend, probeBackends } from '../src/backend/init-backend.js';
import { assertWebGpuHealthy, formatAdapter } from '../src/backend/webgpu.js';
import { transformerBlock, blockParamShapes } from '../src/nn/block.js';
import { clipByGlobalNorm } from '../src/optim/clip.js';
import { Rng } from '../src/util/rng.js';
import { parseVitConfig } from '../src/vit/config.js';
import { createVit, vitFeatures, vitForward } from '../src/vit/vit.js';
import { segmentBias } from '../src/nn/attention.js';
import { maxRelDiff } from './helpers.js';

const probes = await probeBackends();
const webgpu = probes.find((p) => p.name === 'webgpu')!;
const native = probes.find((p) => p.name === 'tensorflow')!;
const missing = !webgpu.available ? `no WebGPU adapter (${webgpu.reason})` : !native.available ? `no native TensorFlow (${native.reason})` : null;
const title = (what: string) => (missing ? `${what} (skipped: ${missing})` : what);

/** Runs `fn` on a backend and returns what it read back (asynchronously: WebGPU in Node cannot read synchronously). */
async function on<T>(backend: 'webgpu' | 'tensorflow', fn: () => Promise<T>): Promise<T> {
  await initBackend({ prefer: backend, log: null });
  return fn();
}

/** A block's output and the gradient of a weighted sum of it w.r.t. the input and every parameter. */
async function blockCase(): Promise<{ y: Float32Array; grads: Record<string, Float32Array> }> {
  const rng = new Rng(5);
  const [b, n, d, heads] = [4, 18, 64, 2];
  const params: Record<string, tf.Tensor> = {};
  for (const [name, shape] of Object.entries(blockParamShapes('b', d, 4 * d))) {
    const isScale = /norm\d\.weight$/.test(name);
    const values = rng.normalArray(shape.reduce((a, c) => a * c, 1), 0, isScale ? 0.1 : 0.2);
    params[name] = tf.add(tf.tensor(values, shape), isScale ? 1 : 0);
  }
  const x = tf.tensor3d(rng.normalArray(b * n * d), [b, n, d]);
  const probe = tf.tensor3d(rng.uniformArray(b * n * d, -1, 1), [b, n, d]);
  const bias = segmentBias([9, 9]); // two segments, as MOCA's packed rounds
  const names = Object.keys(params);
  const f = (xi: tf.Tensor, ...ps: tf.Tensor[]) => {
    const p = Object.fromEntries(names.map((k, i) => [k, ps[i]!]));
    return tf.sum(tf.mul(transformerBlock(xi as tf.Tensor3D, p, 'b', heads, 1e-6, bias), probe));
  };
  const out = transformerBlock(x, params, 'b', heads, 1e-6, bias);
  const y = (await out.data()) as Float32Array;
  const gs = tf.grads(f)([x, ...names.map((k) => params[k]!)]);
  const grads: Record<string, Float32Array> = { x: (await gs[0]!.data()) as Float32Array };
  for (const [i, k] of names.entries()) grads[k] = (await gs[i + 1]!.data()) as Float32Array;
  tf.dispose([x, out, probe, bias, ...Object.values(params), ...gs]);
  return { y, grads };
}

describe.skipIf(missing !== null)('WebGPU backend', () => {
  it(title('is chosen when named, reports its adapter, and leaves the automatic choice to hardware'), async () => {
    const info = await initBackend({ prefer: 'webgpu', log: null });
    expect(info.name).toBe('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
    expect(info.adapter).toEqual(webgpu.adapter);
    expect(info.adapter!.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(formatAdapter(info.adapter!)).toMatch(info.adapter!.software ? /, software;/ : /, hardware;/);
    const device = (tf.backend() as unknown as { device: { limits: Record<string, number> } }).device;
    // The device gets the adapter's binding limit, not WebGPU's default of 8.
    expect(device.limits.maxStorageBuffersPerShaderStage).toBe(info.adapter!.limits.maxStorageBuffersPerShaderStage);
  });

  it(title('a transformer block: forward and gradients agree with native TensorFlow to 1e-5'), async () => {
    const want = await on('tensorflow', blockCase);
    const got = await on('webgpu', blockCase);
    const gradDiffs = Object.entries(want.grads).map(([name, g]) => [name, maxRelDiff(got.grads[name]!, g)] as const);
    console.log(`[webgpu] block forward max rel ${maxRelDiff(got.y, want.y).toExponential(2)}, gradients max rel ${Math.max(...gradDiffs.map(([, d]) => d)).toExponential(2)}`);
    expect(maxRelDiff(got.y, want.y)).toBeLessThan(1e-5);
    for (const [name, d] of gradDiffs) expect(d, name).toBeLessThan(1e-5);
  });

  it(title('ViT features (the harness path) agree with native TensorFlow to 1e-5'), async () => {
    const c = parseVitConfig({ imageSize: 28, patchSize: 4, inChannels: 1, embedDim: 64, depth: 2, numHeads: 2 });
    const features = async () => {
      const vit = createVit(c, new Rng(8));
      const x = tf.tensor4d(new Rng(9).uniformArray(4 * 28 * 28), [4, 28, 28, 1]);
      const y = tf.tidy(() => vitFeatures(c, vitForward(c, vit.params, x).tokens));
      const f = (await y.data()) as Float32Array;
      tf.disposeVariables();
      tf.dispose([x, y]);
      return f;
    };
    const want = await on('tensorflow', features);
    expect(maxRelDiff(await on('webgpu', features), want)).toBeLessThan(1e-5);
  });

  it(title('clips by global norm over 60 gradients (more than a shader binds)'), async () => {
    await initBackend({ prefer: 'webgpu', log: null });
    const grads: Record<string, tf.Tensor> = {};
    let sumSquares = 0;
    for (let i = 0; i < 60; i++) {
      grads[`g${i}`] = tf.fill([3], i + 1);
      sumSquares += 3 * (i + 1) ** 2;
    }
    const { norm, grads: clipped } = clipByGlobalNorm(grads, 1);
    expect((await norm.data())[0]).toBeCloseTo(Math.sqrt(sumSquares), 1);
    expect((await clipped.g59!.data())[0]).toBeCloseTo(60 / Math.sqrt(sumSquares), 5);
    assertWebGpuHealthy();
    tf.dispose([norm, ...Object.values(grads), ...Object.values(clipped)]);
  });

  it(title('matMul with a transposed B where tfjs would split K agrees with native TensorFlow (webgpu-matmul.ts)'), async () => {
    // [M, K] x [N, K]^T with M small and K >= 2000: tfjs-backend-webgpu 4.22's split-K program read B
    // wrongly here (relative error 1.4, and so dA = dy B^T of such products: iBOT's prototypes).
    const cases: [number, number, number][] = [[8, 2048, 256], [8, 2048, 32], [4, 3000, 100], [8, 4096, 128]];
    const product = async (backend: 'webgpu' | 'tensorflow') =>
      on(backend, async () => {
        const r = new Rng(1);
        const out: Float32Array[] = [];
        for (const [m, k, n] of cases) {
          const [a, b] = [tf.tensor2d(r.normalArray(m * k), [m, k]), tf.tensor2d(r.normalArray(n * k), [n, k])];
          const y = tf.matMul(a, b, false, true);
          const fused = tf.fused.matMul({ a, b, transposeB: true, bias: tf.ones([n]) });
          out.push((await y.data()) as Float32Array, (await fused.data()) as Float32Array);
          tf.dispose([a, b, y, fused]);
        }
        return out;
      });
    const want = await product('tensorflow');
    const got = await product('webgpu');
    got.forEach((g, i) => expect(maxRelDiff(g, want[i]!), `case ${i >> 1}${i % 2 ? ' (fused)' : ''}`).toBeLessThan(1e-5));
    assertWebGpuHealthy();
  });

  // Last in this file: it leaves the device's error recorded for the rest of the process.
  it(title('a shader WebGPU rejects becomes an error at the next check, not a wrong number'), async () => {
    await initBackend({ prefer: 'webgpu', log: null });
    const parts = Array.from({ length: 40 }, (_, i) => tf.scalar(i));
    const sum = tf.addN(parts); // tfjs's AddN binds one storage buffer per input
    await sum.data();
    await new Promise((r) => setTimeout(r, 50));
    expect(() => assertWebGpuHealthy('in this test')).toThrow(/WebGPU error in this test: .*storage buffers/);
    tf.dispose([sum, ...parts]);
  });
});
