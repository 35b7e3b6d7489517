// `maskedssl eval`: the shared harness (k-NN, linear probe, low-shot) on frozen features of a
// checkpoint, raw pixels or a random-init ViT; writes results.json and results.md, prints the table.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { evaluate, extractFeatures, makeReport, Protocol, renderMarkdown, reportToJson, type EvalResult } from '@maskedssl/core/node';
import { listOf, parseFlags, positiveInt, type Options } from '../args.js';
import { DatasetConfig, datasetNames, openDataset } from '../datasets.js';
import { UsageError } from '../errors.js';
import { checkpointFeatures, pixelSource, randomInitLike, type FeatureSource } from '../features.js';
import { importHelp, importMethods } from '../methods.js';
import { backendHelp, setupBackend } from '../setup-backend.js';

export const evalHelp = `maskedssl eval (--checkpoint <dir> | --features pixels | --features random-init) --out <dir> [options]
  --dataset <name>       ${datasetNames.join(', ')} (default fashion-mnist)
  --data-dir <dir>       where the dataset files are
  --protocols <list>     knn,linear,lowshot (default: all three)
  --pool <avg|cls>       feature pooling (default avg)
  --backbone <b>         random-init's shape: a ViT preset, or a run / checkpoint folder whose backbone
                         it copies (default vit-mini/4, the baselines' fashion-mnist presets)
  --seed <n>             seed of the protocols (and of random-init weights)
  --train-limit <n>      use only the first n training images (quick checks)
  --test-limit <n>       use only the first n test images
  --out <dir>            the folder for results.json and results.md
${importHelp}
${backendHelp}`;

export interface EvalRequest {
  source: FeatureSource;
  dataset: DatasetConfig;
  protocols: Protocol[];
  seed: number;
  trainLimit?: number;
  testLimit?: number;
  log?: (line: string) => void;
}

/** Extracts features of both splits and runs the protocols. */
export async function runEval(req: EvalRequest): Promise<EvalResult> {
  const train = await openDataset(req.dataset, 'train');
  const test = await openDataset(req.dataset, 'test');
  const first = (n: number | undefined, length: number) => (n === undefined ? undefined : Int32Array.from({ length: Math.min(n, length) }, (_, i) => i));
  const trainIdx = first(req.trainLimit, train.length);
  const testIdx = first(req.testLimit, test.length);
  const started = performance.now();
  const trainFeatures = await extractFeatures(train, req.source.fn, trainIdx ? { indices: trainIdx } : {});
  const testFeatures = await extractFeatures(test, req.source.fn, testIdx ? { indices: testIdx } : {});
  req.log?.(`${req.source.name}: features of ${trainFeatures.n} + ${testFeatures.n} images in ${((performance.now() - started) / 1000).toFixed(1)}s`);
  return evaluate({ source: req.source.name, train: trainFeatures, test: testFeatures }, req.protocols, req.seed, {
    numClasses: train.numClasses,
    ...(req.log && { log: req.log }),
  });
}

export async function writeResults(outDir: string, results: EvalResult[], dataset: string): Promise<string> {
  await mkdir(outDir, { recursive: true });
  const report = makeReport(results, dataset);
  const md = renderMarkdown(report);
  await writeFile(join(outDir, 'results.json'), reportToJson(report));
  await writeFile(join(outDir, 'results.md'), md + '\n');
  return md;
}

/** The flags `maskedssl eval` accepts (its help lists each). */
export const evalFlags = {
    import: { type: 'string', multiple: true },
    checkpoint: { type: 'string' },
    features: { type: 'string' },
    dataset: { type: 'string' },
    'data-dir': { type: 'string' },
    protocols: { type: 'string' },
    pool: { type: 'string' },
    backbone: { type: 'string' },
    seed: { type: 'string' },
    'train-limit': { type: 'string' },
    'test-limit': { type: 'string' },
    out: { type: 'string' },
    backend: { type: 'string' },
  } satisfies Options;

export async function evalCommand(argv: string[]): Promise<number> {
  const f = parseFlags(argv, evalFlags);
  await importMethods(f.import);
  if (Boolean(f.checkpoint) === Boolean(f.features)) throw new UsageError('give exactly one of --checkpoint <dir> and --features pixels|random-init');
  if (f.features && f.features !== 'pixels' && f.features !== 'random-init') throw new UsageError(`--features: '${f.features}' is not pixels or random-init`);
  if (!f.out) throw new UsageError('--out is required (a folder for results.json and results.md)');
  const pool = f.pool ?? 'avg';
  if (pool !== 'avg' && pool !== 'cls') throw new UsageError(`--pool: '${pool}' is not avg or cls`);
  const protocols = listOf(f.protocols ?? 'knn,linear,lowshot', '--protocols', Protocol.options);
  const seed = f.seed === undefined ? 0 : Number(f.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed must be a non-negative integer, got '${f.seed}'`);
  const parsed = DatasetConfig.safeParse({ ...(f.dataset && { name: f.dataset }), ...(f['data-dir'] && { dataDir: f['data-dir'] }) });
  if (!parsed.success) throw new UsageError(`--dataset: ${parsed.error.issues[0]?.message}`);
  const trainLimit = positiveInt(f['train-limit'], '--train-limit');
  const testLimit = positiveInt(f['test-limit'], '--test-limit');
  await setupBackend(f.backend);
  let source: FeatureSource;
  if (f.checkpoint) source = await checkpointFeatures(f.checkpoint, pool);
  else if (f.features === 'pixels') source = pixelSource();
  else source = await randomInitLike(f.backbone ?? 'vit-mini/4', (await openDataset(parsed.data, 'test')).imageShape, seed, pool);
  try {
    const log = (l: string) => process.stderr.write(l + '\n');
    const result = await runEval({ source, dataset: parsed.data, protocols, seed, ...(trainLimit && { trainLimit }), ...(testLimit && { testLimit }), log });
    const md = await writeResults(f.out, [result], parsed.data.name);
    process.stdout.write(md + '\n');
    return 0;
  } finally {
    source.dispose();
  }
}
