// A complete custom SSL objective in one file, as a user writes it against the public API of
// @maskedssl/core: masked feature regression (data2vec-style). The student sees a view with mask
// tokens substituted at random positions and regresses, through a linear head, the EMA teacher's
// final tokens of the unmasked view at those positions. Registering it makes it usable everywhere.
//
//   npx tsx --conditions=maskedssl-source examples/custom-objective.ts   (trains it for 30 steps)
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  backboneFields,
  checkBackboneOverrides,
  checkMomentum,
  createVit,
  EmaTeacher,
  gatherTokens,
  initBackend,
  linear,
  makeVariable,
  memoryReporter,
  momentumFields,
  numPatches,
  prefixed,
  parseTrainerConfig,
  proceduralDataset,
  randomTokenMask,
  registerObjective,
  Rng,
  simpleCropFlip,
  splitDecay,
  Trainer,
  vitConfigForImages,
  vitForward,
  xavierUniform,
  type Objective,
  type ObjectiveDefinition,
} from '@maskedssl/core/node';

// The kit's shared fields: a backbone preset with overrides, and a momentum schedule for the teacher.
const Config = z
  .object({
    ...backboneFields('vit-tiny/4'),
    maskRatio: z.number().min(0).lt(1).default(0.6),
    ...momentumFields(0.996, 1),
  })
  .strict()
  .superRefine((c, ctx) => {
    checkBackboneOverrides(c.backbone, c.backboneOverrides, ctx);
    checkMomentum(c, ctx);
  });

export const maskedRegression = {
  name: 'masked-regression',
  summary: 'regress EMA-teacher tokens at masked positions (data2vec-style)',
  configSchema: Config,
  presets: { 'fashion-mnist': { backbone: 'vit-tiny/4' } },
  trainerPresets: { 'fashion-mnist': { lr: 1e-3, batchSize: 64 } },
  create(config, { imageShape, rng }): Objective {
    const vc = vitConfigForImages(config.backbone, config.backboneOverrides, imageShape, 'masked-regression');
    const student = createVit(vc, rng, 'student');
    const teacher = new EmaTeacher(student.params);
    const d = vc.embedDim;
    const n = numPatches(vc);
    const head = {
      'head.weight': makeVariable('head', 'weight', [d, d], xavierUniform(rng, d, d)),
      'head.bias': makeVariable('head', 'bias', [d], 'zeros'),
      mask_token: makeVariable('head', 'mask_token', [d], rng.normalArray(d, 0, 0.02)),
    };
    const learnable = { ...student.params, ...head };
    const patchTokens = (t: tf.Tensor3D) => tf.slice(t, [0, 1, 0], [-1, n, d]) as tf.Tensor3D;
    return {
      name: 'masked-regression',
      views: [simpleCropFlip({ channels: imageShape[2] })],
      paramGroups: () => splitDecay(learnable),
      variables: () => ({ ...learnable, ...prefixed('teacher.', teacher.params) }),
      loss([view], _info, rng) {
        const m = randomTokenMask(rng, view!.shape[0], n, config.maskRatio);
        const target = gatherTokens(patchTokens(vitForward(vc, teacher.params, view!).tokens), m.masked);
        const out = vitForward(vc, student.params, view!, { mask: m.mask, maskToken: head.mask_token }).tokens;
        const pred = linear(gatherTokens(patchTokens(out), m.masked), head['head.weight'], head['head.bias']);
        return { loss: tf.losses.meanSquaredError(target, pred) as tf.Scalar };
      },
      // The trainer moves the teacher after every step on the cosine schedule of these two values.
      momentumPairs: () => ({ pairs: [{ student: student.params, teacher }], momentum: config.momentum, momentumEnd: config.momentumEnd }),
      backbone: () => ({ config: vc, params: teacher.params }),
      dispose: () => {
        tf.dispose(Object.values(learnable));
        teacher.dispose();
      },
    };
  },
} satisfies ObjectiveDefinition<typeof Config>;

/** Registers the objective and trains it briefly on the procedural dataset; returns the losses. */
export async function demo(steps = 30): Promise<number[]> {
  await initBackend();
  registerObjective(maskedRegression);
  const dataset = proceduralDataset({ count: 512, seed: 1, size: 28 });
  const config = parseTrainerConfig({ budget: `${steps}steps`, batchSize: 32, lr: 1e-3 });
  const objective = maskedRegression.create(maskedRegression.configSchema.parse({ backboneOverrides: { depth: 2 } }), { imageShape: [28, 28, 1], batchSize: 32, rng: new Rng(0) });
  const trainer = new Trainer({ objective, method: maskedRegression.name, config, dataset, reporter: memoryReporter(), handleSignals: false });
  try {
    return (await trainer.run()).losses;
  } finally {
    trainer.dispose();
    objective.dispose();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  demo().then((losses) => console.log(`masked-regression: loss ${losses[0]?.toFixed(4)} -> ${losses.at(-1)?.toFixed(4)} over ${losses.length} steps`));
}
