// A training loop on the ViT (masked student forward, EMA teacher target, clipping, AdamW, teacher
// update) must not leak: tf.memory().numTensors is identical after step 2 and after step 20.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { randomTokenMask } from '../src/masking/random-mask.js';
import { gatherTokens } from '../src/masking/gather.js';
import { AdamW } from '../src/optim/adamw.js';
import { clipByGlobalNorm } from '../src/optim/clip.js';
import { splitDecay } from '../src/optim/param-groups.js';
import { cosineMomentum, cosineSchedule } from '../src/optim/schedules.js';
import { valueAndGrads } from '../src/optim/value-and-grads.js';
import { EmaTeacher } from '../src/teacher/ema-teacher.js';
import { parseVitConfig } from '../src/vit/config.js';
import { createVit, vitForward } from '../src/vit/vit.js';
import { Rng } from '../src/util/rng.js';
import { useBackend } from './helpers.js';

await useBackend();

describe('training loop memory', () => {
  it('numTensors is the same after step 2 and step 20', async () => {
    const c = parseVitConfig({ imageSize: 16, patchSize: 4, inChannels: 1, embedDim: 32, depth: 2, numHeads: 2 });
    const rng = new Rng(0);
    const student = createVit(c, rng, 'student');
    const teacher = new EmaTeacher(student.params);
    const optimizer = new AdamW(splitDecay(student.params));
    const lr = cosineSchedule({ base: 1e-3, final: 1e-5, totalSteps: 20, warmupSteps: 3 });
    const images = tf.tensor4d(rng.uniformArray(8 * 16 * 16), [8, 16, 16, 1]);
    const counts: number[] = [];
    const losses: number[] = [];
    for (let step = 0; step < 20; step++) {
      const mask = randomTokenMask(rng, 8, 16, 0.5);
      const target = tf.tidy(() => gatherTokens(tf.slice(vitForward(c, teacher.params, images).tokens, [0, 1, 0], [8, 16, 32]) as tf.Tensor3D, mask.keep));
      const { value, grads } = valueAndGrads(() => {
        const out = vitForward(c, student.params, images, { keep: mask.keep }).tokens;
        return tf.losses.meanSquaredError(target, tf.slice(out, [0, 1, 0], [8, 8, 32])) as tf.Scalar;
      }, student.params);
      const clipped = clipByGlobalNorm(grads, 1.0);
      optimizer.step(clipped.grads, { lr: lr(step), weightDecay: 0.05 });
      teacher.update(student.params, cosineMomentum(step, 20, 0.99));
      losses.push((await value.data())[0]!);
      tf.dispose([value, grads, clipped.grads, clipped.norm, target, mask]);
      counts.push(tf.memory().numTensors);
    }
    expect(counts[19]).toBe(counts[1]);
    expect(losses.every(Number.isFinite)).toBe(true);
  });
});
