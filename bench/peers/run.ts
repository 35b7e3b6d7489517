// Our ViT training / inference step beside the same step in TensorFlow-Python (tf.function) and
// PyTorch, measured in one run on this machine with the same thread settings, printed as one table
// with same-run ratios. Each framework runs in its own child process, one after the other:
//   ours   packages/core/bench/vit-throughput.ts --child tensorflow (tfjs-node, native TensorFlow)
//   peers  vit_tf.py and vit_torch.py with the project's venv (.cache/venv, from npm run setup:native)
// Never part of the tests.   npm run bench:peers [-- --seconds 15 --batch 64 --threads 2]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const python = join(root, '.cache', 'venv', 'bin', 'python');

const Args = z.object({
  batch: z.number().int().positive().default(64),
  seconds: z.number().positive().default(15),
  threads: z.number().int().positive().default(2),
});

const Result = z.object({
  backend: z.string(),
  trainImgPerSec: z.number(),
  inferImgPerSec: z.number(),
  trainSteps: z.number(),
});
type Result = z.infer<typeof Result>;

function parseArgs(argv: string[]): z.infer<typeof Args> {
  const raw: Record<string, number> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i]!;
    const key = flag.replace(/^--/, '');
    if (!['batch', 'seconds', 'threads'].includes(key) || argv[i + 1] === undefined) {
      throw new Error(`bench:peers: unexpected argument '${flag}' (known: --batch, --seconds, --threads)`);
    }
    raw[key] = Number(argv[i + 1]);
  }
  const r = Args.safeParse(raw);
  if (!r.success) throw new Error(`bench:peers: ${r.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

/** Runs one measurement child; its stdout carries one `RESULT {json}` line. */
function runChild(label: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): Result {
  process.stderr.write(`measuring ${label}...\n`);
  const child = spawnSync(cmd, args, { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const line = child.stdout?.split('\n').find((l) => l.startsWith('RESULT '));
  // TensorFlow's start-up log lines go to stderr: shown only when the run fails.
  if (child.status !== 0 || !line) process.stderr.write(child.stderr ?? '');
  if (child.status !== 0 || !line) throw new Error(`bench:peers: the ${label} run failed (exit ${child.status}${child.error ? `, ${child.error.message}` : ''})`);
  return Result.parse(JSON.parse(line.slice('RESULT '.length)));
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  if (!existsSync(python)) throw new Error(`bench:peers: ${python} is missing; run 'npm run setup:native' first`);
  const threads = String(args.threads);
  // TensorFlow (ours through tfjs-node, and the Python one) reads these when it creates its thread
  // pools; oneDNN and PyTorch follow OMP_NUM_THREADS. The Python peers also set them through their APIs.
  const env = { ...process.env, TF_NUM_INTRAOP_THREADS: threads, TF_NUM_INTEROP_THREADS: threads, OMP_NUM_THREADS: threads, TF_CPP_MIN_LOG_LEVEL: '2' };
  const common = ['--batch', String(args.batch), '--seconds', String(args.seconds)];
  const ours = runChild(
    'ours (tfjs-node)',
    process.execPath,
    [...process.execArgv, join(root, 'packages', 'core', 'bench', 'vit-throughput.ts'), '--child', 'tensorflow', ...common],
    env,
  );
  ours.backend = `tfjs-node 4.22 eager on TensorFlow ${nativeVersion()} (C library)`;
  const tfPeer = runChild('tf.function', python, [join(here, 'vit_tf.py'), ...common, '--threads', threads], env);
  const torchPeer = runChild('torch', python, [join(here, 'vit_torch.py'), ...common, '--threads', threads], env);

  const cpu = os.cpus();
  console.log(`machine: ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores; node ${process.version}`);
  console.log(
    `step: vit-tiny/4 (28x28x1, patch 4, d192, depth 6, 3 heads), batch ${args.batch}, AdamW; ` +
      `threads: intra-op ${threads}, inter-op ${threads} (OMP ${threads}); ~${args.seconds}s train + ${args.seconds / 2}s infer each, after warm-up`,
  );
  console.log('');
  console.log('| | backend | train img/s | infer img/s | ours/peer train | ours/peer infer |');
  console.log('|---|---|---:|---:|---:|---:|');
  const rows: [string, Result][] = [['ours', ours], ['tf.function', tfPeer], ['torch', torchPeer]];
  for (const [name, r] of rows) {
    const ratio = (a: number, b: number) => (name === 'ours' ? '' : `${(a / b).toFixed(2)}x`);
    console.log(
      `| ${name} | ${r.backend} | ${r.trainImgPerSec.toFixed(1)} | ${r.inferImgPerSec.toFixed(1)} | ` +
        `${ratio(ours.trainImgPerSec, r.trainImgPerSec)} | ${ratio(ours.inferImgPerSec, r.inferImgPerSec)} |`,
    );
  }
}

/** The TensorFlow version of the venv whose C library our binding is built against. */
function nativeVersion(): string {
  const r = spawnSync(python, ['-c', 'import importlib.metadata as m; print(m.version("tensorflow-cpu"))'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : 'unknown';
}

try {
  main();
} catch (e) {
  console.error((e as Error).message);
  process.exit(1);
}
