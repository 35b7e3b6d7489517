// Checks every method's tests run through core's Trainer: a stable tensor count across steps, and the
// losses of a short run (for "the loss goes down" checks).
import * as tf from '@tensorflow/tfjs-core';
import { memoryReporter, parseTrainerConfig, Trainer, type Dataset, type Objective, type TrainerConfigInput } from '@maskedssl/core/node';
import { expect } from 'vitest';

export type MakeTrainer = (config: Record<string, unknown>) => { trainer: Trainer; objective: Objective };

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
  const { trainer, objective } = make({ budget: '20steps' });
  await trainer.run({ limit: 2 });
  const after2 = tf.memory().numTensors;
  await trainer.run({ limit: 18 });
  expect(tf.memory().numTensors).toBe(after2);
  trainer.dispose();
  objective.dispose();
}

/** The losses of a `steps`-step run, checked finite. */
export async function shortRunLosses(make: MakeTrainer, steps: number): Promise<number[]> {
  const { trainer, objective } = make({ budget: `${steps}steps` });
  const { losses } = await trainer.run();
  trainer.dispose();
  objective.dispose();
  expect(losses).toHaveLength(steps);
  expect(losses.every(Number.isFinite)).toBe(true);
  return losses;
}

export const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
