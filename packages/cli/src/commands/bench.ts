// `maskedssl bench`: the head-to-head runner. Every method trains on the same dataset and budget
// with its own preset and views (--set gives them all one value, e.g. trainer.batchSize or
// method.backbone; different backbones are reported as not like for like), then the shared
// harness evaluates it; the `pixels` and `random-init` rows give the floor. Writes results.json,
// results.csv, results.md and plots (online k-NN against wall-clock time, loss curves; SVG and PNG).
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { basename, dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { listCheckpoints, listObjectives, Protocol, readMetrics, type EvalResult, type VitConfig } from '@maskedssl/core/node';
import { listOf, parseFlags, positiveInt, type Options } from '../args.js';
import { DatasetConfig, datasetNames } from '../datasets.js';
import { UsageError } from '../errors.js';
import { backboneLabel, checkpointFeatures, pixelSource, randomVitSource } from '../features.js';
import { importHelp, importMethods } from '../methods.js';
import { linePlotSvg, svgToPng, type Series } from '../plot.js';
import { resolveRunConfig, type RunConfig } from '../run-config.js';
import { backendHelp, setupBackend } from '../setup-backend.js';
import { runEval, writeResults } from './eval.js';
import { runPretrain } from './pretrain.js';

export const benchHelp = `maskedssl bench --methods <list> --out <dir> [options]
  --methods <list>       e.g. moca,mae,mocov3,maskco (registered methods; --import adds your own)
  --budget <b>           the same for every method (default 15m)
  --seeds <n>            runs per method, seeds 0..n-1 (default 1)
  --dataset <name>       ${datasetNames.join(', ')} (default fashion-mnist); --data-dir <dir>
  --protocols <list>     knn,linear,lowshot (default all)
  --knn-every <steps>    online k-NN during training for the curve (default 100)
  --set <key=value>      applied to every method (e.g. --set trainer.batchSize=64)
  --train-limit <n>, --test-limit <n>   evaluate on the first n images (quick checks)
  --out <dir>            the results folder (a bench run again with the same flags continues in it)
${importHelp}
${backendHelp}`;

interface TrainRow {
  method: string;
  seed: number;
  steps: number;
  elapsedSeconds: number;
  imgPerSec: number;
  checkpoint: string;
  knnCurve: [number, number][];
  lossCurve: [number, number][];
}

function csvRow(r: EvalResult, train?: TrainRow): string {
  const knn = (k: number) => r.knn?.byK.find((e) => e.k === k)?.accuracy;
  const shot = (s: string) => r.lowShot?.settings.find((e) => e.setting === s)?.mean;
  const cell = (v: number | undefined) => (v === undefined ? '' : (100 * v).toFixed(2));
  return [r.source, r.seed, train?.steps ?? '', train ? train.imgPerSec.toFixed(1) : '', train ? train.elapsedSeconds.toFixed(0) : '', cell(knn(20)), cell(knn(10)), cell(r.linear?.accuracy), cell(shot('1')), cell(shot('5')), cell(shot('10')), cell(shot('1%'))].join(',');
}

/** Steps between a bench run's checkpoints (a crashed bench continues from the newest; --set overrides). */
const BENCH_CHECKPOINT_EVERY = 200;

async function readJson<T>(path: string): Promise<T | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as T);
}

/** The top-level and section keys whose values differ between two configs (for the refusal message). */
function differingKeys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].flatMap((k) => {
    const [x, y] = [a[k], b[k]];
    if (JSON.stringify(x) === JSON.stringify(y)) return [];
    const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
    return isRecord(x) && isRecord(y) ? differingKeys(x, y).map((d) => `${k}.${d}`) : [k];
  });
}

/** Refuses a run folder that holds a run of another configuration, naming the keys that differ. */
async function checkRunFolder(config: RunConfig, runDir: string): Promise<void> {
  const saved = await readJson<Record<string, unknown>>(join(runDir, 'config.json'));
  const wanted = JSON.parse(JSON.stringify(config)) as Record<string, unknown>;
  if (saved !== undefined && JSON.stringify(saved) !== JSON.stringify(wanted)) {
    throw new UsageError(
      `--out: ${runDir} holds a ${config.method} run with another configuration (${differingKeys(saved, wanted).join(', ')}); choose another --out folder`,
    );
  }
}

/**
 * One method's training in a bench: read back when `runDir` holds this very run finished
 * (bench-train.json), continued from its newest checkpoint when it holds it interrupted, else trained
 * afresh (an old metrics.jsonl and evaluation are removed first). checkRunFolder has run.
 */
async function benchTraining(config: RunConfig, runDir: string, budget: string, log: (l: string) => void): Promise<TrainRow> {
  const donePath = join(runDir, 'bench-train.json');
  const latest = (await listCheckpoints(join(runDir, 'checkpoints'))).at(-1);
  const done = await readJson<TrainRow>(donePath);
  if (done && latest) {
    log(`== ${config.method} (seed ${config.trainer.seed}): finished training read back from ${runDir}`);
    return { ...done, checkpoint: latest.path };
  }
  // Resumed, runPretrain drops the records logged after the newest checkpoint (those steps run again).
  if (!latest) await Promise.all([join(runDir, 'metrics.jsonl'), join(runDir, 'bench-eval.json')].map((f) => rm(f, { force: true })));
  log(`== ${config.method} (seed ${config.trainer.seed}): ${latest ? 'continuing the interrupted training' : 'training'} for ${budget}`);
  const { result } = await runPretrain(config, runDir, { resume: latest !== undefined });
  if (!result.checkpoint) throw new Error(`${config.method}: training wrote no checkpoint`);
  if (result.stoppedBy === 'SIGINT' || result.stoppedBy === 'SIGTERM') throw new Error(`${config.method}: training stopped by ${result.stoppedBy}; run the same bench command again to continue`);
  const metrics = (await readMetrics(runDir)) as unknown as { step: number; loss: number; elapsedSeconds: number; imgPerSec: number; knn?: number }[];
  const row: TrainRow = {
    method: config.method,
    seed: config.trainer.seed,
    steps: result.steps,
    elapsedSeconds: result.elapsedSeconds,
    imgPerSec: metrics.length ? metrics.reduce((s, m) => s + m.imgPerSec, 0) / metrics.length : 0,
    checkpoint: result.checkpoint,
    knnCurve: metrics.filter((m) => m.knn !== undefined).map((m) => [m.elapsedSeconds / 60, 100 * m.knn!]),
    lossCurve: metrics.map((m) => [m.step, m.loss]),
  };
  await writeFile(donePath, JSON.stringify(row) + '\n');
  return row;
}

/** The flags `maskedssl bench` accepts (its help lists each). */
export const benchFlags = {
    import: { type: 'string', multiple: true },
    methods: { type: 'string' },
    budget: { type: 'string' },
    seeds: { type: 'string' },
    dataset: { type: 'string' },
    'data-dir': { type: 'string' },
    protocols: { type: 'string' },
    'knn-every': { type: 'string' },
    set: { type: 'string', multiple: true },
    'train-limit': { type: 'string' },
    'test-limit': { type: 'string' },
    out: { type: 'string' },
    backend: { type: 'string' },
  } satisfies Options;

export async function benchCommand(argv: string[]): Promise<number> {
  const f = parseFlags(argv, benchFlags);
  await importMethods(f.import);
  if (!f.methods) throw new UsageError('--methods is required (e.g. --methods moca,mae)');
  if (!f.out) throw new UsageError('--out is required (a folder for the results)');
  const registered = listObjectives().map((d) => d.name);
  const methods = f.methods.split(',').map((s) => s.trim()).filter(Boolean);
  for (const m of methods) {
    if (!registered.includes(m)) throw new UsageError(`--methods: '${m}' is not a known method (registered: ${registered.join(', ') || 'none'})`);
  }
  const seeds = positiveInt(f.seeds, '--seeds') ?? 1;
  const knnEvery = positiveInt(f['knn-every'], '--knn-every') ?? 100;
  const protocols = listOf(f.protocols ?? 'knn,linear,lowshot', '--protocols', Protocol.options);
  const trainLimit = positiveInt(f['train-limit'], '--train-limit');
  const testLimit = positiveInt(f['test-limit'], '--test-limit');
  const budget = f.budget ?? '15m';
  const datasetInput = { ...(f.dataset && { name: f.dataset as never }), ...(f['data-dir'] && { dataDir: f['data-dir'] }) };
  // Resolve every config before training anything, so a bad flag fails at once.
  const configs = methods.flatMap((method) =>
    Array.from({ length: seeds }, (_, seed) =>
      resolveRunConfig({ method, budget, seed, sets: [`trainer.checkpointEvery=${BENCH_CHECKPOINT_EVERY}`, ...(f.set ?? []), `trainer.knnEvery=${knnEvery}`], dataset: datasetInput }),
    ),
  );
  const dataset = DatasetConfig.parse(datasetInput);
  const backend = await setupBackend(f.backend);
  const log = (l: string) => process.stderr.write(l + '\n');
  const limits = { ...(trainLimit && { trainLimit }), ...(testLimit && { testLimit }) };

  // A bench is resumable: run it again with the same flags and --out, and finished trainings and
  // evaluations are read back, an interrupted training continues from its last checkpoint.
  // An evaluation is read back only for the same data, protocols and limits, and the same features
  // (the checkpoint's step folder, or the random-init backbone).
  const cachedEval = async (path: string, features: unknown, run: () => Promise<EvalResult>): Promise<EvalResult> => {
    const evalKey = JSON.stringify({ dataset, protocols, limits, features });
    const saved = await readJson<{ key: string; result: EvalResult }>(path);
    if (saved?.key === evalKey) {
      log(`bench: evaluation read back from ${path}`);
      return saved.result;
    }
    const result = await run();
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, JSON.stringify({ key: evalKey, result }) + '\n');
    return result;
  };
  const trainRows: TrainRow[] = [];
  const results: EvalResult[] = [];
  const backbones = new Map<string, { method: string; config: VitConfig }>();
  const runDirOf = (config: RunConfig) => join(f.out!, 'runs', `${config.method}-seed${config.trainer.seed}`);
  for (const config of configs) await checkRunFolder(config, runDirOf(config));
  for (const config of configs) {
    const runDir = runDirOf(config);
    const row = await benchTraining(config, runDir, budget, log);
    trainRows.push(row);
    const source = await checkpointFeatures(row.checkpoint, 'avg');
    const key = JSON.stringify(source.backbone);
    if (source.backbone && !backbones.has(key)) backbones.set(key, { method: config.method, config: source.backbone });
    try {
      results.push(await cachedEval(join(runDir, 'bench-eval.json'), basename(row.checkpoint), () => runEval({ source, dataset, protocols, seed: config.trainer.seed, ...limits, log })));
    } finally {
      source.dispose();
    }
  }
  // The random-init row: the backbone the methods trained; when they differ (said so), the first method's.
  const first = [...backbones.values()][0];
  if (!first) throw new Error('bench: no method reported the backbone it trained');
  const floor = first.config;
  if (backbones.size > 1) {
    log(`bench: the methods trained ${backbones.size} different backbones (not like for like; --set method.backbone=<preset> gives them one); random-init uses the first method's (${first.method}: ${backboneLabel(floor)})`);
  }
  const randomInit = (seed: number) => randomVitSource(floor, seed, 'avg', backboneLabel(floor));
  for (let seed = 0; seed < seeds; seed++) {
    for (const source of [pixelSource(), randomInit(seed)]) {
      try {
        const path = join(f.out, 'evals', `${source.name}-seed${seed}.json`);
        results.push(await cachedEval(path, source.name === 'pixels' ? 'pixels' : floor, () => runEval({ source, dataset, protocols, seed, ...limits, log })));
      } finally {
        source.dispose();
      }
    }
  }

  await mkdir(f.out, { recursive: true });
  const cpu = os.cpus();
  const machine = `${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`;
  const header = `Budget ${budget} per method on ${dataset.name}; backend ${backend.name} (tfjs-core ${tf.version_core}); ${machine}.`;
  const md = await writeResults(f.out, results, dataset.name);
  const training = [
    '| method | seed | steps | img/s | wall-clock (s) |',
    '|---|---:|---:|---:|---:|',
    ...trainRows.map((r) => `| ${r.method} | ${r.seed} | ${r.steps} | ${r.imgPerSec.toFixed(1)} | ${r.elapsedSeconds.toFixed(0)} |`),
  ].join('\n');
  const fullMd = `${header}\n\n${md}\n\nTraining:\n\n${training}\n`;
  await writeFile(join(f.out, 'results.md'), fullMd);
  await writeFile(join(f.out, 'results.json'), JSON.stringify({ machine, backend: backend.name, budget, dataset: dataset.name, training: trainRows, results }, null, 2) + '\n');
  const csvHeader = 'source,seed,steps,img_per_s,train_seconds,knn20,knn10,linear,lowshot1,lowshot5,lowshot10,lowshot1pct';
  const csv = results.map((r) => csvRow(r, trainRows.find((t) => t.method === r.source && t.seed === r.seed)));
  await writeFile(join(f.out, 'results.csv'), [csvHeader, ...csv].join('\n') + '\n');
  const byMethod = (pick: (r: TrainRow) => [number, number][]): Series[] => trainRows.map((r) => ({ name: seeds > 1 ? `${r.method} s${r.seed}` : r.method, points: pick(r) }));
  const plots = {
    'knn-vs-time': linePlotSvg({ title: `Online k-NN (k=20) on ${dataset.name}`, xLabel: 'wall-clock (minutes)', yLabel: 'top-1 (%)', series: byMethod((r) => r.knnCurve) }),
    loss: linePlotSvg({ title: 'Training loss', xLabel: 'step', yLabel: 'loss', series: byMethod((r) => r.lossCurve) }),
  };
  for (const [name, svg] of Object.entries(plots)) {
    await writeFile(join(f.out, `${name}.svg`), svg);
    await writeFile(join(f.out, `${name}.png`), await svgToPng(svg));
  }
  process.stdout.write(fullMd);
  return 0;
}
