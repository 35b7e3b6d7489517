// MOCA training throughput next to a plain supervised ViT training step: same backbone (the preset's,
// or the one --config names), batch (default: the preset's), images and backend. A MOCA step runs
// the teacher on both views, the student on both masking rounds of both views, the decoder and both
// prototype heads; the plain step is one forward/backward of the backbone with a linear head. Views
// are made by the trainer in both cases, as in training.
//   npm run bench -w @maskedssl/moca [-- --steps 20 --batch 32 --repeats 3 --config '{"invDelta": 20}']
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import {
  createVit, initBackend, linear, makeVariable, memoryReporter, parseTrainerConfig, proceduralDataset, Rng, splitDecay, Trainer, vitFeatures, vitForward,
  vitConfigForImages, xavierUniform, type ObjectiveDefinition, type VitConfig,
} from '@maskedssl/core/node';
import { z } from 'zod';
import { moca } from '../src/index.js';

/** The plain baseline as an objective, so both go through the same trainer loop. */
let plainBackbone: VitConfig;
const plain: ObjectiveDefinition<z.ZodObject<Record<string, never>>> = {
  name: 'plain-vit',
  summary: 'supervised-style step: ViT + linear head, cross-entropy on fixed pseudo-labels',
  configSchema: z.object({}),
  presets: {},
  create(_c, { imageShape, rng }) {
    const config = { ...plainBackbone, imageSize: imageShape[0]!, inChannels: imageShape[2]! };
    const d = config.embedDim;
    const vit = createVit(config, rng, 'plain');
    const params = { ...vit.params, 'head.weight': makeVariable('plain', 'head.weight', [d, 10], xavierUniform(rng, d, 10)), 'head.bias': makeVariable('plain', 'head.bias', [10], 'zeros') };
    return {
      name: 'plain-vit',
      views: [[]],
      paramGroups: () => splitDecay(params),
      variables: () => params,
      loss([x]) {
        const labels = tf.oneHot(tf.tensor1d(Array.from({ length: x!.shape[0] }, (_, i) => i % 10), 'int32'), 10);
        const logits = linear(vitFeatures(config, vitForward(config, params, x!).tokens), params['head.weight'], params['head.bias']);
        return { loss: tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar };
      },
      backbone: () => ({ config, params }),
      dispose: () => tf.dispose(Object.values(params)),
    };
  },
};

async function measure(def: ObjectiveDefinition, methodConfig: unknown, steps: number, batch: number): Promise<number> {
  const dataset = proceduralDataset({ count: batch * (steps + 4), seed: 1, size: 28 });
  const objective = await def.create(def.configSchema.parse(methodConfig) as never, { imageShape: [28, 28, 1], batchSize: batch, rng: new Rng(0) });
  const reporter = memoryReporter();
  const trainer = new Trainer({ objective, method: def.name, config: parseTrainerConfig({ budget: `${steps + 3}steps`, batchSize: batch }), dataset, reporter, handleSignals: false });
  try {
    await trainer.run({ limit: 3 }); // warm-up steps, not timed
    const start = performance.now();
    await trainer.run();
    return (steps * batch) / ((performance.now() - start) / 1000);
  } finally {
    trainer.dispose();
    objective.dispose();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const get = (flag: string, fallback: number) => {
    const i = args.indexOf(flag);
    const v = i >= 0 ? Number(args[i + 1]) : fallback;
    if (!Number.isInteger(v) || v < 1) throw new Error(`${flag} must be a positive integer`);
    return v;
  };
  const steps = get('--steps', 20);
  const batch = get('--batch', Number(moca.trainerPresets?.['fashion-mnist']?.batchSize ?? 64));
  const repeats = get('--repeats', 3);
  const i = args.indexOf('--config');
  const overrides = i >= 0 ? (JSON.parse(args[i + 1] ?? '{}') as Record<string, unknown>) : {};
  const mocaConfig = moca.configSchema.parse({ ...moca.presets['fashion-mnist'], ...overrides });
  plainBackbone = vitConfigForImages(mocaConfig.backbone, mocaConfig.backboneOverrides, [28, 28, 1], 'bench');
  const backend = await initBackend();
  // Pairs measured back to back share the machine's state of the moment (its speed drifts by tens of
  // percent over minutes here); the figure is the median of the pairs' ratios.
  const pairs: { plain: number; moca: number }[] = [];
  for (let r = 0; r < repeats; r++) {
    const plainRate = await measure(plain as unknown as ObjectiveDefinition, {}, steps, batch);
    const mocaRate = await measure(moca as unknown as ObjectiveDefinition, mocaConfig, steps, batch);
    pairs.push({ plain: plainRate, moca: mocaRate });
    console.error(`pair ${r + 1}/${repeats}: plain ${plainRate.toFixed(1)} img/s, moca ${mocaRate.toFixed(1)} img/s, ${(plainRate / mocaRate).toFixed(2)} plain steps`);
  }
  const median = (xs: number[]) => {
    const v = [...xs].sort((a, b) => a - b);
    return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
  };
  const ratios = pairs.map((p) => p.plain / p.moca);
  const cpu = os.cpus();
  const b = plainBackbone;
  console.log(
    `machine: ${cpu[0]?.model ?? 'unknown'} x ${cpu.length}; backend ${backend.name}; tfjs-core ${tf.version_core}; ` +
      `${mocaConfig.backbone} (d${b.embedDim}, depth ${b.depth}, patch ${b.patchSize}) on 28x28x1, batch ${batch}, ` +
      `${repeats} pairs of ${steps} timed steps each; moca overrides ${JSON.stringify(overrides)}; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
  );
  console.log('| step | img/s (median) | img/s per pair | cost in plain steps (median of pairs) |');
  console.log('|---|---:|---:|---:|');
  const list = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(', ');
  console.log(`| plain ViT (forward + backward + AdamW) | ${median(pairs.map((p) => p.plain)).toFixed(1)} | ${list(pairs.map((p) => p.plain))} | 1.00 |`);
  console.log(
    `| MOCA (fashion-mnist preset${Object.keys(overrides).length ? ' + overrides' : ''}) | ${median(pairs.map((p) => p.moca)).toFixed(1)} | ` +
      `${list(pairs.map((p) => p.moca))} | ${median(ratios).toFixed(2)} (pairs: ${ratios.map((r) => r.toFixed(2)).join(', ')}) |`,
  );
}

main().catch((e: Error) => {
  console.error(e.message);
  process.exit(1);
});
