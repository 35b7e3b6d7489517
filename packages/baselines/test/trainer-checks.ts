// Checks every method's tests run through core's Trainer: a stable tensor count across steps, and the
// losses of a short run (for "the loss goes down" checks).
import * as tf from '@tensorflow/tfjs-core';
import { memoryReporter, parseTrainerConfig, Rng, Trainer, type Dataset, type Objective, type TrainerConfigInput } from '@maskedssl/core/node';
import { expect } from 'vitest';

export type MakeTrainer = (config: Record<string, unknown>) => { trainer: Trainer; objective: Objective } | Promise<{ trainer: Trainer; objective: Objective }>;

/** A MakeTrainer: a new objective from `create`, trained on `dataset` with `defaults` under each call's settings. */
export function trainerFactory(method: string, create: () => Objective, dataset: Dataset, defaults: TrainerConfigInput): MakeTrainer {
  return (config) => {
    const objective = create();
    const trainer = new Trainer({
      objective,
      method,
      config: parseTrainerConfig({ ...defaults, ...config }),
      dataset,
      reporter: memoryReporter(),
      handleSignals: false,
    });
    return { trainer, objective };
  };
}

/** tf.memory().numTensors after step 20 equals the count after step 2. */
export async function expectNoTensorLeak(make: MakeTrainer): Promise<void> {
  const { trainer, objective } = await make({ budget: '20steps' });
  await trainer.run({ limit: 2 });
  const after2 = tf.memory().numTensors;
  await trainer.run({ limit: 18 });
  expect(tf.memory().numTensors).toBe(after2);
  trainer.dispose();
  objective.dispose();
}

/** The losses of a `steps`-step run, checked finite. */
export async function shortRunLosses(make: MakeTrainer, steps: number): Promise<number[]> {
  const { trainer, objective } = await make({ budget: `${steps}steps` });
  const { losses } = await trainer.run();
  trainer.dispose();
  objective.dispose();
  expect(losses).toHaveLength(steps);
  expect(losses.every(Number.isFinite)).toBe(true);
  return losses;
}

export const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * A pixel method's maskedView (the playground's See tab): one round of [B, K] visible tokens; a
 * reconstruction in [0, 1] that equals the image exactly on every visible patch and differs from it on
 * masked ones; nothing left behind once the caller disposes what it returned.
 */
export async function expectPixelMaskedView(objective: Objective, images: tf.Tensor4D, patchSize: number): Promise<void> {
  const before = tf.memory().numTensors;
  const view = objective.maskedView!(images, new Rng(3));
  const [b, h, w, c] = images.shape;
  const grid = h / patchSize;
  expect(view.rounds).toHaveLength(1);
  const visible = (await view.rounds[0]!.visible.array()) as number[][];
  const recon = view.reconstruction!;
  expect(recon.shape).toEqual([b, h, w, c]);
  const [r, x] = [await recon.data(), await images.data()];
  expect(Math.min(...r)).toBeGreaterThanOrEqual(0);
  expect(Math.max(...r)).toBeLessThanOrEqual(1);
  let maskedDiff = 0;
  for (let i = 0; i < b; i++) {
    const seen = new Set(visible[i]);
    for (let t = 0; t < grid * grid; t++) {
      for (let y = 0; y < patchSize; y++) {
        for (let xx = 0; xx < patchSize; xx++) {
          const at = ((i * h + Math.floor(t / grid) * patchSize + y) * w + (t % grid) * patchSize + xx) * c;
          if (seen.has(t)) expect(r[at]).toBeCloseTo(x[at]!, 6);
          else maskedDiff += Math.abs(r[at]! - x[at]!);
        }
      }
    }
  }
  expect(maskedDiff).toBeGreaterThan(0);
  tf.dispose([recon, ...view.rounds.map((v) => v.visible)]);
  expect(tf.memory().numTensors).toBe(before);
}
