// ViT training and inference throughput per backend (vit-tiny/4, 28x28x1, batch 64 by default).
// Each backend runs in its own child process so peak RSS is its own. Training = forward, softmax
// cross-entropy through a linear head on average-pooled features, backward, AdamW step. Every row
// names the device it ran on (the CPU, or WebGPU's adapter). A software WebGPU adapter (SwiftShader)
// and pure-JS cpu are measured only when named.
//   npm run bench [-- --backends webgpu,tensorflow --batch 64 --seconds 20]
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { BackendName, backendNames, initBackend, probeBackends } from '../src/backend/init-backend.js';
import { formatAdapter } from '../src/backend/webgpu.js';
import { makeVitStep } from './vit-step.js';

const Args = z.object({
  backends: z.array(BackendName).optional(),
  batch: z.number().int().positive().default(64),
  seconds: z.number().positive().default(15),
  child: BackendName.optional(),
});

function parseArgs(argv: string[]): z.infer<typeof Args> {
  const raw: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    if (!flag.startsWith('--') || value === undefined) throw new Error(`bench: unexpected argument '${flag}'`);
    const key = flag.slice(2);
    if (key === 'backends') raw.backends = value.split(',');
    else if (key === 'batch' || key === 'seconds') raw[key] = Number(value);
    else if (key === 'child') raw.child = value;
    else throw new Error(`bench: unknown flag --${key} (known: --backends, --batch, --seconds)`);
    i++;
  }
  const r = Args.safeParse(raw);
  if (!r.success) throw new Error(`bench: ${r.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

interface Result {
  backend: string;
  /** What computed: WebGPU's adapter, or the CPU. */
  device: string;
  trainImgPerSec: number;
  inferImgPerSec: number;
  trainSteps: number;
  peakRssMiB: number;
}

/** Repeats `fn` (after 2 warm-up calls) until `seconds` have passed, at least 3 times; returns calls/s. */
async function rate(fn: () => Promise<void>, seconds: number): Promise<{ perSec: number; calls: number }> {
  await fn();
  await fn();
  const start = performance.now();
  let calls = 0;
  while (calls < 3 || performance.now() - start < seconds * 1000) {
    await fn();
    calls++;
  }
  return { perSec: calls / ((performance.now() - start) / 1000), calls };
}

async function measure(backend: BackendName, batch: number, seconds: number): Promise<Result> {
  const info = await initBackend({ prefer: backend, log: null });
  const step = makeVitStep(batch);
  const train = await rate(step.train, seconds);
  const infer = await rate(step.infer, seconds / 2);
  step.dispose();
  return {
    backend,
    device: info.adapter ? formatAdapter(info.adapter, { limits: false }) : `CPU: ${os.cpus()[0]?.model ?? 'unknown'} x ${os.cpus().length}`,
    trainImgPerSec: train.perSec * batch,
    inferImgPerSec: infer.perSec * batch,
    trainSteps: train.calls,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.child) {
    const r = await measure(args.child, args.batch, args.seconds);
    process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
    return;
  }
  const probes = await probeBackends();
  const available = probes.filter((p) => p.available).map((p) => p.name);
  // Pure-JS cpu manages ~0.3 GFLOP/s, SwiftShader less: one batch-64 training step takes minutes. Only when asked.
  const slow = (b: BackendName) => b === 'cpu' || (b === 'webgpu' && probes.find((p) => p.name === b)!.adapter!.software);
  const backends = args.backends ?? available.filter((b) => !slow(b));
  const cpu = os.cpus();
  console.log(`machine: ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; tfjs-core ${tf.version_core}`);
  console.log(`model: vit-tiny/4 (28x28x1, patch 4, d192, depth 6, 3 heads, 2.7M params), batch ${args.batch}, ~${args.seconds}s per measurement`);
  const skipped = backendNames.filter((b) => !backends.includes(b));
  const why = (b: BackendName) => (available.includes(b) ? `${b} (${slow(b) && b === 'webgpu' ? 'software adapter; ' : ''}pass --backends ${b})` : `${b} (not available)`);
  if (skipped.length) console.log(`not measured: ${skipped.map(why).join(', ')}`);
  const results: Result[] = [];
  for (const backend of backends) {
    if (!available.includes(backend)) {
      throw new Error(`bench: backend '${backend}' is not available here: ${probes.find((p) => p.name === backend)!.reason} (available: ${available.join(', ')})`);
    }
    process.stderr.write(`measuring ${backend}...\n`);
    const self = fileURLToPath(import.meta.url);
    const child = spawnSync(process.execPath, [...process.execArgv, self, '--child', backend, '--batch', String(args.batch), '--seconds', String(args.seconds)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = child.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (child.status !== 0 || !line) throw new Error(`bench: the ${backend} run failed (exit ${child.status})`);
    results.push(JSON.parse(line.slice(7)) as Result);
  }
  console.log('');
  console.log('| backend | device | train img/s | infer img/s | train steps timed | peak RSS (MiB) |');
  console.log('|---|---|---:|---:|---:|---:|');
  for (const r of results) {
    console.log(`| ${r.backend} | ${r.device} | ${r.trainImgPerSec.toFixed(1)} | ${r.inferImgPerSec.toFixed(1)} | ${r.trainSteps} | ${r.peakRssMiB.toFixed(0)} |`);
  }
}

main().catch((e: Error) => {
  console.error(e.message);
  process.exit(1);
});
