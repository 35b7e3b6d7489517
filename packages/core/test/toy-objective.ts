// A small but real objective for trainer tests: the student ViT sees a randomly masked view and
// regresses the EMA teacher's (full-view) tokens at the masked positions (data2vec-style), with a
// linear head. Its JSON state counts afterStep calls; `nanAtStep` makes the loss NaN at that step.
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { randomTokenMask } from '../src/masking/random-mask.js';
import { gatherTokens } from '../src/masking/gather.js';
import { makeVariable, xavierUniform } from '../src/nn/params.js';
import { linear } from '../src/nn/linear.js';
import { splitDecay } from '../src/optim/param-groups.js';
import { cosineMomentum } from '../src/optim/schedules.js';
import { EmaTeacher } from '../src/teacher/ema-teacher.js';
import type { Objective, ObjectiveDefinition } from '../src/train/objective.js';
import { parseVitConfig, numPatches } from '../src/vit/config.js';
import { createVit, vitForward } from '../src/vit/vit.js';

const ToyConfig = z
  .object({
    embedDim: z.number().int().positive().default(16),
    depth: z.number().int().positive().default(1),
    maskRatio: z.number().min(0).lt(1).default(0.5),
    nanAtStep: z.number().int().nonnegative().nullable().default(null),
  })
  .strict();

export const toyObjective = {
  name: 'toy',
  summary: 'masked regression of EMA-teacher tokens (test objective)',
  configSchema: ToyConfig,
  presets: {},
  create(config, ctx): Objective {
    const [h, , c] = ctx.imageShape;
    const vitConfig = parseVitConfig({ imageSize: h, patchSize: 4, inChannels: c, embedDim: config.embedDim, depth: config.depth, numHeads: 2 });
    const student = createVit(vitConfig, ctx.rng, 'toy-student');
    const d = config.embedDim;
    const head = { 'head.weight': makeVariable('toy', 'head.weight', [d, d], xavierUniform(ctx.rng, d, d)), 'head.bias': makeVariable('toy', 'head.bias', [d], 'zeros') };
    const teacher = new EmaTeacher(student.params, 'toy-teacher');
    const learnable = { ...student.params, ...head };
    let afterSteps = 0;
    const n = numPatches(vitConfig);
    return {
      name: 'toy',
      views: [[{ type: 'horizontalFlip', p: 0.5 }]],
      paramGroups: () => splitDecay(learnable),
      variables: () => ({
        ...learnable,
        ...Object.fromEntries(Object.entries(teacher.params).map(([k, v]) => [`teacher.${k}`, v])),
      }),
      loss([view], info, rng) {
        const mask = randomTokenMask(rng, view!.shape[0], n, config.maskRatio);
        const target = gatherTokens(tf.slice(vitForward(vitConfig, teacher.params, view!).tokens, [0, 1, 0], [-1, n, d]) as tf.Tensor3D, mask.masked);
        const full = vitForward(vitConfig, student.params, view!, { mask: mask.mask, maskToken: tf.zeros([d]) }).tokens;
        const pred = linear(gatherTokens(tf.slice(full, [0, 1, 0], [-1, n, d]) as tf.Tensor3D, mask.masked), head['head.weight'], head['head.bias']);
        let loss = tf.losses.meanSquaredError(target, pred) as tf.Scalar;
        if (config.nanAtStep === info.step) loss = tf.mul(loss, NaN) as tf.Scalar;
        return { loss, metrics: { targetStd: tf.sqrt(tf.moments(target).variance) as tf.Scalar } };
      },
      afterStep(info) {
        teacher.update(student.params, cosineMomentum(info.step, info.totalSteps, 0.9));
        afterSteps++;
      },
      backbone: () => ({ config: vitConfig, params: teacher.params }),
      getState: () => ({ afterSteps }),
      setState(s) {
        afterSteps = z.object({ afterSteps: z.number() }).parse(s).afterSteps;
      },
      dispose() {
        tf.dispose([...Object.values(learnable), ...Object.values(teacher.params)]);
      },
    };
  },
} satisfies ObjectiveDefinition<typeof ToyConfig>;
