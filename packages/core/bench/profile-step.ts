// Profile of the benchmark ViT step (vit-step.ts) on native TensorFlow: every TensorFlow op the step
// dispatches is counted and timed by wrapping tfjs-node's binding.executeOp (eager execution is
// synchronous on CPU, so its duration is the kernel plus the call into the binding). Per phase
// (forward, backward, optimiser; inference separately): ops dispatched, wall time, time inside
// executeOp ("kernels") and the rest ("JS": tfjs engine, tape, tidy, attribute marshalling), then
// the most expensive ops by total time.
//   npm run profile -w @maskedssl/core [-- --steps 10 --batch 64 --top 25]
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { initBackend } from '../src/backend/init-backend.js';
import { valueAndGrads } from '../src/optim/value-and-grads.js';
import { makeVitStep } from './vit-step.js';

const Args = z.object({
  steps: z.number().int().positive().default(10),
  batch: z.number().int().positive().default(64),
  top: z.number().int().positive().default(25),
});

type Phase = 'forward' | 'backward' | 'optimiser' | 'readback' | 'inference';
interface OpStat {
  calls: number;
  ms: number;
}
interface PhaseStat {
  ops: number;
  kernelMs: number;
  wallMs: number;
}

interface Binding {
  executeOp: (name: string, attrs: unknown[], inputs: number[], numOutputs: number) => { shape: number[] }[];
  tensorDataSync: (id: number) => unknown;
}

function parseArgs(argv: string[]): z.infer<typeof Args> {
  const raw: Record<string, number> = {};
  for (let i = 0; i < argv.length; i += 2) raw[argv[i]!.replace(/^--/, '')] = Number(argv[i + 1]);
  const r = Args.strict().safeParse(raw);
  if (!r.success) throw new Error(`profile: ${r.error.issues.map((i) => `${i.path.join('.') || i.message}: ${i.message}`).join('; ')}`);
  return r.data;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const info = await initBackend({ prefer: 'tensorflow', log: null });
  const backend = tf.backend() as unknown as { binding: Binding };
  const binding = backend.binding;
  let phase: Phase = 'forward';
  let recording = false;
  const byOp = new Map<string, OpStat>();
  const byPhase = new Map<Phase, PhaseStat>();
  const phaseStat = (p: Phase) => byPhase.get(p) ?? byPhase.set(p, { ops: 0, kernelMs: 0, wallMs: 0 }).get(p)!;
  // The binding's own properties are read-only: the backend gets a stand-in that inherits the rest.
  const timedBinding: Binding = Object.create(binding, {
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
          const p = phaseStat(phase);
          p.ops++;
          p.kernelMs += ms;
        }
        return out;
      },
    },
    tensorDataSync: {
      value: (id: number) => {
        const t0 = performance.now();
        const out = binding.tensorDataSync(id);
        if (recording) phaseStat(phase).kernelMs += performance.now() - t0;
        return out;
      },
    },
  });
  backend.binding = timedBinding;

  const step = makeVitStep(args.batch);
  const timed = async <T>(p: Phase, fn: () => T | Promise<T>): Promise<T> => {
    phase = p;
    const t0 = performance.now();
    const r = await fn();
    if (recording) phaseStat(p).wallMs += performance.now() - t0;
    return r;
  };
  const trainStep = async () => {
    // The forward ends when the loss function returns inside valueAndGrads; the rest is the backward.
    let forwardEnd = 0;
    const t0 = performance.now();
    phase = 'forward';
    const { value, grads } = valueAndGrads(() => {
      const l = step.loss();
      forwardEnd = performance.now();
      phase = 'backward';
      return l;
    }, step.params);
    if (recording) {
      phaseStat('forward').wallMs += forwardEnd - t0;
      phaseStat('backward').wallMs += performance.now() - forwardEnd;
    }
    await timed('optimiser', () => step.update(grads));
    tf.dispose(grads);
    await timed('readback', () => value.data());
    value.dispose();
  };
  for (let i = 0; i < 3; i++) await trainStep();
  for (let i = 0; i < 3; i++) await step.infer();
  recording = true;
  const t0 = performance.now();
  for (let i = 0; i < args.steps; i++) await trainStep();
  const trainMs = (performance.now() - t0) / args.steps;
  for (let i = 0; i < args.steps; i++) await timed('inference', step.infer);
  step.dispose();

  const n = args.steps;
  console.log(`backend ${info.name}; batch ${args.batch}; ${n} steps after 3 warm-up steps; per step: ${trainMs.toFixed(1)} ms train (${((args.batch * 1000) / trainMs).toFixed(1)} img/s)`);
  console.log('');
  console.log('| phase | ops | wall ms | kernel ms | JS ms | JS share |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const p of ['forward', 'backward', 'optimiser', 'readback', 'inference'] as Phase[]) {
    const s = byPhase.get(p);
    if (!s) continue;
    const js = s.wallMs - s.kernelMs;
    console.log(`| ${p} | ${(s.ops / n).toFixed(0)} | ${(s.wallMs / n).toFixed(1)} | ${(s.kernelMs / n).toFixed(1)} | ${(js / n).toFixed(1)} | ${((100 * js) / s.wallMs).toFixed(0)}% |`);
  }
  console.log('');
  console.log(`top ${args.top} ops by time (per step):`);
  console.log('');
  console.log('| phase / op -> output shape | calls | ms | ms/call |');
  console.log('|---|---:|---:|---:|');
  const sorted = [...byOp.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, args.top);
  for (const [key, s] of sorted) {
    console.log(`| ${key} | ${(s.calls / n).toFixed(0)} | ${(s.ms / n).toFixed(2)} | ${(s.ms / s.calls).toFixed(3)} |`);
  }
  const byName = new Map<string, OpStat>();
  for (const [key, s] of byOp) {
    if (key.startsWith('inference')) continue;
    const name = key.slice(10).split(' ')[0]!;
    const t = byName.get(name) ?? byName.set(name, { calls: 0, ms: 0 }).get(name)!;
    t.calls += s.calls;
    t.ms += s.ms;
  }
  console.log('');
  console.log('training step, by op type (per step):');
  console.log('');
  console.log('| op | calls | ms |');
  console.log('|---|---:|---:|');
  for (const [name, s] of [...byName.entries()].sort((a, b) => b[1].ms - a[1].ms)) {
    console.log(`| ${name} | ${(s.calls / n).toFixed(0)} | ${(s.ms / n).toFixed(1)} |`);
  }
}

main().catch((e: Error) => {
  console.error(e.stack ?? e.message);
  process.exit(1);
});
