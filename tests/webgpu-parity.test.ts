// WebGPU against native TensorFlow: every registered method trains 3 steps from one seed on both
// backends (vit-micro/4, batch 4, 28x28 procedural images) and their loss sequences agree. On a CPU
// machine WebGPU runs on SwiftShader's Vulkan driver (VK_ICD_FILENAMES, see README "GPU"): slow, but
// the same WGSL shaders a GPU runs. Skips, saying what is missing, without an adapter or tfjs-node.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { availableBackends, initBackend, memoryReporter, probeBackends } from '@maskedssl/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPretrain } from '../packages/cli/src/commands/pretrain.js';
import { methodNames, registerMethods } from '../packages/cli/src/methods.js';
import { resolveRunConfig } from '../packages/cli/src/run-config.js';

registerMethods();
const probes = await probeBackends();
const webgpu = probes.find((p) => p.name === 'webgpu')!;
const native = (await availableBackends()).includes('tensorflow');
const missing = !webgpu.available ? `no WebGPU adapter (${webgpu.reason})` : !native ? 'native TensorFlow backend not built (npm run setup:native)' : null;

/** How far the two backends' losses may drift apart, relative, over 3 steps (see the closing note). */
const lossTolerance = 2e-3;

let dir = '';
const sets = ['method.backbone=vit-micro/4', 'trainer.batchSize=4', 'trainer.seed=3'];
// MOCA's new words come from distinct images of a batch: fewer of them (and a smaller codebook) at batch 4.
const extraSets: Record<string, string[]> = { moca: ['method.numNewWords=4', 'method.numWords=64'] };

async function losses(backend: 'tensorflow' | 'webgpu', method: string): Promise<number[]> {
  await initBackend({ prefer: backend, log: null });
  const config = resolveRunConfig({ method, sets: [...sets, ...(extraSets[method] ?? [])], budget: '3steps', dataset: { name: 'procedural', proceduralTrain: 64 } });
  const out = await mkdtemp(join(dir, `${method}-${backend}-`));
  const { result } = await runPretrain(config, out, { reporter: memoryReporter() });
  return result.losses;
}

describe.skipIf(missing !== null)(missing ? `WebGPU parity (skipped: ${missing})` : `WebGPU parity on ${webgpu.adapter!.description || webgpu.adapter!.architecture}`, () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'maskedssl-webgpu-'));
    // MOMA distils from a teacher checkpoint: one MAE step on native TensorFlow makes one.
    await initBackend({ prefer: 'tensorflow', log: null });
    const teacher = join(dir, 'teacher');
    await runPretrain(resolveRunConfig({ method: 'mae', sets, budget: '1steps', dataset: { name: 'procedural', proceduralTrain: 64 } }), teacher, { reporter: memoryReporter() });
    extraSets.moma = [`method.teachers=[{"checkpoint":"${teacher}"}]`];
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const method of methodNames()) {
    it(`${method}: 3 steps from one seed give the same losses on webgpu and tensorflow`, async () => {
      const t0 = performance.now();
      const want = await losses('tensorflow', method);
      const t1 = performance.now();
      const got = await losses('webgpu', method);
      const t2 = performance.now();
      const rel = got.map((g, i) => Math.abs(g - want[i]!) / Math.max(Math.abs(want[i]!), 1e-6));
      console.log(`[webgpu parity] ${method}: tensorflow ${want.map((v) => v.toFixed(6)).join(' ')} (${((t1 - t0) / 1000).toFixed(1)} s); webgpu ${got.map((v) => v.toFixed(6)).join(' ')} (${((t2 - t1) / 1000).toFixed(1)} s); max rel ${Math.max(...rel).toExponential(2)}`);
      expect(got).toHaveLength(3);
      for (const r of rel) expect(r).toBeLessThan(lossTolerance);
      expect(tf.getBackend()).toBe('webgpu');
    });
  }
});
