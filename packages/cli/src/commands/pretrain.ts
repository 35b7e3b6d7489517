// `maskedssl pretrain`: train one method on a dataset under a budget, with checkpoints in --out.
import { join } from 'node:path';
import { consoleReporter, dropMetricsFrom, fileRunStore, getObjective, listCheckpoints, NonFiniteLossError, Rng, Trainer, writeRunConfig, type ProgressReporter, type TrainResult } from '@maskedssl/core/node';
import { parseFlags, type Options } from '../args.js';
import { openDataset } from '../datasets.js';
import { UsageError } from '../errors.js';
import { importHelp, importMethods } from '../methods.js';
import { progressStream } from '../quiet.js';
import { resolveRunConfig, type RunConfig } from '../run-config.js';
import { backendHelp, setupBackend } from '../setup-backend.js';

export const pretrainHelp = `maskedssl pretrain --method <name> --out <dir> [options]
  --method <name>        a registered method (see 'maskedssl info'; --import adds your own)
  --dataset <name>       fashion-mnist (default), mnist, cifar10, cifar100, folder, procedural
  --data-dir <dir>       where the dataset files are
  --budget <b>           steps ("500"), epochs ("3epochs") or wall-clock time ("90s", "10m", "1h")
  --preset <name>        the method preset (default: fashion-mnist, when the method has it, for the
                         fashion-mnist, mnist and procedural datasets; none for the others)
  --config <file.json>   {"method": {...}, "trainer": {...}, "dataset": {...}}
  --set <key=value>      e.g. --set trainer.lr=0.001 --set method.numWords=512 (repeatable)
  --seed <n>             run seed (trainer.seed)
  --out <dir>            the run folder: config.json, metrics.jsonl, checkpoints/
  --resume               continue from the newest checkpoint in --out
${backendHelp}
  --print-config         print the resolved, validated config and exit
${importHelp}`;

export interface PretrainOutcome {
  result: TrainResult;
  outDir: string;
  config: RunConfig;
}

/** Trains as configured; used by `pretrain` and by `bench`. */
export async function runPretrain(config: RunConfig, outDir: string, options: { resume?: boolean; reporter?: ProgressReporter } = {}): Promise<PretrainOutcome> {
  const def = getObjective(config.method);
  const train = await openDataset(config.dataset, 'train');
  const knnData = config.trainer.knnEvery > 0 ? { train, test: await openDataset(config.dataset, 'test') } : undefined;
  const objective = await def.create(config.methodConfig as never, { imageShape: train.imageShape, batchSize: config.trainer.batchSize, rng: new Rng(config.trainer.seed + 1) });
  const backbone = objective.backbone().config;
  const [h, w, c] = train.imageShape;
  if (backbone.imageSize !== h || backbone.imageSize !== w || backbone.inChannels !== c) {
    objective.dispose();
    throw new UsageError(
      `method.backbone: the ${config.method} backbone takes ${backbone.imageSize}x${backbone.imageSize}x${backbone.inChannels} images, ${train.name} has ${h}x${w}x${c}`,
    );
  }
  const latest = (await listCheckpoints(join(outDir, 'checkpoints'))).at(-1);
  if (!options.resume && latest) {
    objective.dispose();
    throw new UsageError(`--out ${outDir} already holds a run with checkpoints: pass --resume to continue it, or choose another folder`);
  }
  if (options.resume && !latest) {
    objective.dispose();
    throw new UsageError(`--resume: ${join(outDir, 'checkpoints')} holds no checkpoint to continue from`);
  }
  await writeRunConfig(outDir, { ...config });
  const reporter = options.reporter ?? consoleReporter(progressStream(), config.trainer.logEvery);
  const trainer = new Trainer({
    objective,
    method: config.method,
    config: config.trainer,
    dataset: train,
    store: fileRunStore(outDir),
    ...(knnData && { knnData }),
    runInfo: { method: config.method, methodConfig: config.methodConfig, imageShape: train.imageShape, batchSize: config.trainer.batchSize, dataset: config.dataset },
    reporter,
  });
  try {
    if (options.resume && latest) {
      await trainer.restore(latest.path);
      // The steps logged after the checkpoint (a run killed before its next one) run again.
      const dropped = await dropMetricsFrom(outDir, latest.step);
      if (dropped > 0) reporter.message(`dropped ${dropped} metrics record${dropped > 1 ? 's' : ''} of steps from ${latest.step} on (logged after the checkpoint; they run again)`);
    }
    const result = await trainer.run();
    return { result, outDir, config };
  } finally {
    trainer.dispose();
    objective.dispose();
  }
}

/** The flags `maskedssl pretrain` accepts (its help lists each). */
export const pretrainFlags = {
    import: { type: 'string', multiple: true },
    method: { type: 'string' },
    dataset: { type: 'string' },
    'data-dir': { type: 'string' },
    budget: { type: 'string' },
    preset: { type: 'string' },
    config: { type: 'string' },
    set: { type: 'string', multiple: true },
    seed: { type: 'string' },
    out: { type: 'string' },
    resume: { type: 'boolean' },
    backend: { type: 'string' },
    'print-config': { type: 'boolean' },
  } satisfies Options;

export async function pretrainCommand(argv: string[]): Promise<number> {
  const f = parseFlags(argv, pretrainFlags);
  await importMethods(f.import);
  if (!f.method) throw new UsageError('--method is required');
  const seed = f.seed === undefined ? undefined : Number(f.seed);
  if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0)) throw new UsageError(`--seed must be a non-negative integer, got '${f.seed}'`);
  const config = resolveRunConfig({
    method: f.method,
    ...(f.preset && { preset: f.preset }),
    ...(f.config && { configFile: f.config }),
    sets: f.set ?? [],
    ...(f.budget && { budget: f.budget }),
    ...(seed !== undefined && { seed }),
    dataset: { ...(f.dataset && { name: f.dataset as never }), ...(f['data-dir'] && { dataDir: f['data-dir'] }) },
  });
  if (f['print-config']) {
    process.stdout.write(JSON.stringify(config, null, 2) + '\n');
    return 0;
  }
  if (!f.out) throw new UsageError('--out is required (the run folder, e.g. runs/moca)');
  await setupBackend(f.backend);
  try {
    const { result } = await runPretrain(config, f.out, { resume: Boolean(f.resume) });
    const line = `${config.method}: ${result.steps} steps in ${result.elapsedSeconds.toFixed(0)}s, last loss ${result.losses.at(-1)?.toFixed(4) ?? 'n/a'}`;
    process.stdout.write(`${line}; checkpoint ${result.checkpoint ?? '(none)'}\n`);
    if (result.stoppedBy === 'SIGINT' || result.stoppedBy === 'SIGTERM') {
      process.stderr.write(`stopped by ${result.stoppedBy}; resume with: maskedssl pretrain ... --out ${f.out} --resume\n`);
      return result.stoppedBy === 'SIGINT' ? 130 : 143;
    }
    return 0;
  } catch (e) {
    if (e instanceof NonFiniteLossError) {
      process.stderr.write(`maskedssl pretrain: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
