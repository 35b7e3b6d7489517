// Profile of one MOCA training step on native TensorFlow, phase by phase, as the trainer runs it:
// views (augmentations), forward (the loss), backward, clip + AdamW, afterStep (codebook and EMA
// teacher). Every TensorFlow op is counted and timed by wrapping tfjs-node's binding.executeOp (eager
// execution is synchronous on CPU); the output shapes of the most expensive ops say which part of
// the method they belong to (e.g. [2B*L, K] is the codebook assignment).
//   npm run profile -w @maskedssl/moca [-- --steps 8 --batch 64 --top 30 --config '{"backbone":"vit-mini/4"}']
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW, applyPipeline, batchToTensors, clipByGlobalNorm, initBackend, proceduralDataset, Rng, valueAndGrads, type Objective,
} from '@maskedssl/core/node';
import { moca } from '../src/index.js';

type Phase = 'views' | 'forward' | 'backward' | 'optimiser' | 'afterStep';
const PHASES: Phase[] = ['views', 'forward', 'backward', 'optimiser', 'afterStep'];

interface Binding {
  executeOp: (name: string, attrs: unknown[], inputs: number[], numOutputs: number) => { shape: number[] }[];
}

function flag(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const steps = Number(flag(args, 'steps', '8'));
  const batch = Number(flag(args, 'batch', '64'));
  const top = Number(flag(args, 'top', '30'));
  const overrides = JSON.parse(flag(args, 'config', '{}')) as Record<string, unknown>;
  for (const [k, v] of Object.entries({ steps, batch, top })) if (!Number.isInteger(v) || v < 1) throw new Error(`profile: --${k} must be a positive integer`);
  const info = await initBackend({ prefer: 'tensorflow', log: null });
  if (info.name !== 'tensorflow') throw new Error(`profile: needs the native backend, got ${info.name}`);

  const backend = tf.backend() as unknown as { binding: Binding };
  const binding = backend.binding;
  let phase: Phase = 'views';
  let recording = false;
  const byOp = new Map<string, { calls: number; ms: number }>();
  const kernelMs = new Map<Phase, number>();
  const opsIn = new Map<Phase, number>();
  const wallMs = new Map<Phase, number>();
  const add = (m: Map<Phase, number>, p: Phase, v: number) => m.set(p, (m.get(p) ?? 0) + v);
  backend.binding = Object.create(binding, {
    executeOp: {
      value: (name: string, attrs: unknown[], inputs: number[], numOutputs: number) => {
        const t0 = performance.now();
        const out = binding.executeOp(name, attrs, inputs, numOutputs);
        const ms = performance.now() - t0;
        if (recording) {
          const key = `${phase.padEnd(9)} ${name} -> [${out[0]?.shape.join(',')}]`;
          const s = byOp.get(key) ?? byOp.set(key, { calls: 0, ms: 0 }).get(key)!;
          s.calls++;
          s.ms += ms;
          add(kernelMs, phase, ms);
          add(opsIn, phase, 1);
        }
        return out;
      },
    },
  }) as Binding;

  const config = moca.configSchema.parse({ ...moca.presets['fashion-mnist'], ...overrides });
  const objective: Objective = moca.create(config, { imageShape: [28, 28, 1], batchSize: batch, rng: new Rng(0) });
  const groups = objective.paramGroups();
  const optimizer = new AdamW(groups, { betas: [0.9, 0.999] });
  const learnable = Object.fromEntries(groups.flatMap((g) => Object.entries(g.params)));
  const dataset = proceduralDataset({ count: batch * 4, seed: 1, size: 28 });
  const rng = new Rng(1);
  const batchItems = dataset.getBatch(Array.from({ length: batch }, (_, i) => i));
  const totalSteps = steps + 3;

  const step = async (s: number) => {
    const clock = (p: Phase, t0: number) => recording && add(wallMs, p, performance.now() - t0);
    const info = { step: s, totalSteps, epoch: 0 };
    let t = performance.now();
    phase = 'views';
    const views = tf.tidy(() => {
      const { images } = batchToTensors(batchItems);
      return objective.views.map((p) => applyPipeline(images, p, rng));
    });
    clock('views', t);
    t = performance.now();
    phase = 'forward';
    let forwardEnd = 0;
    const { value, grads } = tf.tidy(() =>
      valueAndGrads(() => {
        const r = objective.loss(views, info, rng);
        tf.dispose(Object.values(r.metrics ?? {}));
        forwardEnd = performance.now();
        phase = 'backward';
        return r.loss;
      }, learnable),
    );
    await value.data();
    if (recording) {
      add(wallMs, 'forward', forwardEnd - t);
      add(wallMs, 'backward', performance.now() - forwardEnd);
    }
    t = performance.now();
    phase = 'optimiser';
    const clipped = clipByGlobalNorm(grads, 0.1);
    optimizer.step(clipped.grads, { lr: 1e-4, weightDecay: 0.05 });
    await clipped.norm.data();
    tf.dispose([value, ...views, ...Object.values(grads), ...Object.values(clipped.grads), clipped.norm]);
    clock('optimiser', t);
    t = performance.now();
    phase = 'afterStep';
    tf.tidy(() => objective.afterStep?.(info, rng));
    clock('afterStep', t);
  };
  for (let s = 0; s < 3; s++) await step(s);
  recording = true;
  const t0 = performance.now();
  for (let s = 3; s < totalSteps; s++) await step(s);
  const perStep = (performance.now() - t0) / steps;
  objective.dispose();

  console.log(`MOCA step profile: backend ${info.name}; batch ${batch}; config ${JSON.stringify(overrides)}; ${steps} steps after 3 warm-up steps`);
  console.log(`per step: ${perStep.toFixed(1)} ms (${((batch * 1000) / perStep).toFixed(1)} img/s)`);
  console.log('');
  console.log('| phase | ops | wall ms | kernel ms | JS ms |');
  console.log('|---|---:|---:|---:|---:|');
  for (const p of PHASES) {
    const w = (wallMs.get(p) ?? 0) / steps;
    const k = (kernelMs.get(p) ?? 0) / steps;
    console.log(`| ${p} | ${((opsIn.get(p) ?? 0) / steps).toFixed(0)} | ${w.toFixed(1)} | ${k.toFixed(1)} | ${(w - k).toFixed(1)} |`);
  }
  console.log('');
  console.log(`top ${top} ops by time (per step):`);
  console.log('');
  console.log('| phase / op -> output shape | calls | ms | ms/call |');
  console.log('|---|---:|---:|---:|');
  for (const [key, s] of [...byOp.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, top)) {
    console.log(`| ${key} | ${(s.calls / steps).toFixed(0)} | ${(s.ms / steps).toFixed(2)} | ${(s.ms / s.calls).toFixed(3)} |`);
  }
}

main().catch((e: Error) => {
  console.error(e.stack ?? e.message);
  process.exit(1);
});
