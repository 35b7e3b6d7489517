// The maskedssl CLI end to end on the procedural dataset: bad input gives one line and a non-zero exit;
// pretrain -> eval -> embed -> export -> bench write what they promise; SIGINT checkpoints and resumes.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeSafetensors, initBackend } from '@maskedssl/core/node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { randomInitLike } from '../packages/cli/src/features.js';
import { isThisFile, main } from '../packages/cli/src/main.js';
import { NoiseFilter } from '../packages/cli/src/quiet.js';
import { benchFlags, benchHelp } from '../packages/cli/src/commands/bench.js';
import { embedFlags, embedHelp } from '../packages/cli/src/commands/embed.js';
import { evalFlags, evalHelp } from '../packages/cli/src/commands/eval.js';
import { exportFlags, exportHelp } from '../packages/cli/src/commands/export.js';
import { infoFlags, infoHelp } from '../packages/cli/src/commands/info.js';
import { pretrainFlags, pretrainHelp } from '../packages/cli/src/commands/pretrain.js';
import { setupFlags, setupHelp } from '../packages/cli/src/commands/setup.js';

await initBackend({ log: null });
const repo = fileURLToPath(new URL('..', import.meta.url));

/** Runs the CLI in-process, capturing stdout and stderr. */
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    const code = await main(argv);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('bad input: one clear line, non-zero exit', () => {
  const cases: [string[], RegExp][] = [
    [['pretrain', '--method', 'mae', '--frobnicate', '1'], /^maskedssl pretrain: unknown flag --frobnicate/],
    [['pretrain', '--method', 'dino', '--print-config'], /^maskedssl pretrain: --method: unknown method 'dino' \(registered: .*mae.*moca/],
    [['pretrain', '--method', 'mae', '--set', 'method.maskRatioo=0.5', '--print-config'], /^maskedssl pretrain: method: unknown key 'maskRatioo'/],
    [['pretrain', '--method', 'mae', '--set', 'trainer.lr=fast', '--print-config'], /^maskedssl pretrain: trainer.lr: /],
    [['pretrain', '--method', 'moca', '--set', 'method.numWords=1000', '--print-config'], /^maskedssl pretrain: method.numWords: .*multiple of numNewWords/],
    [['pretrain', '--method', 'mae', '--budget', 'forever', '--print-config'], /^maskedssl pretrain: trainer.budget: budget 'forever'/],
    [['pretrain', '--method', 'mae', '--dataset', 'imagenet', '--print-config'], /^maskedssl pretrain: dataset.name: /],
    [['pretrain', '--method', 'mae', '--dataset', 'cifar10', '--preset', 'cifar10', '--print-config'], /^maskedssl pretrain: --preset: mae has no preset 'cifar10' \(presets: fashion-mnist\)/],
    [['pretrain', '--method', 'mae', '--set', 'lr=1'], /^maskedssl pretrain: --set lr: the key must start with method\., trainer\. or dataset\./],
    [['eval', '--features', 'pixels', '--checkpoint', 'x', '--out', 'y'], /^maskedssl eval: give exactly one of --checkpoint/],
    [['eval', '--features', 'pixels', '--protocols', 'knn,svm', '--out', 'y'], /^maskedssl eval: --protocols: unknown value 'svm'/],
    [['bench', '--methods', 'mae,dino', '--out', 'x'], /^maskedssl bench: --methods: 'dino' is not a known method/],
    [['export', '--checkpoint', 'x', '--format', 'onnx', '--out', 'y'], /^maskedssl export: --format: 'onnx' is not supported/],
    [['frobnicate'], /^maskedssl: unknown command 'frobnicate'/],
  ];
  it.each(cases)('%j', async (argv, message) => {
    const r = await cli(...argv);
    expect(r.code).not.toBe(0);
    expect(r.err.trim().split('\n')[0]).toMatch(message);
    expect(r.out).toBe('');
  });

  it('an explicit --data-dir is used or named in the error, never replaced by another copy of the data', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'maskedssl-datadir-'));
    const missing = join(dir, 'does-not-exist');
    const r1 = await cli('eval', '--features', 'pixels', '--dataset', 'fashion-mnist', '--data-dir', missing, '--protocols', 'knn', '--out', join(dir, 'out1'));
    expect(r1.code).toBe(1);
    expect(r1.err).toMatch(new RegExp(`^maskedssl eval: Fashion-MNIST: --data-dir ${missing} does not hold the four IDX files \\(no such folder;`));
    // Two corrupt IDX files (of four): the folder and the missing files are named.
    const two = join(dir, 'two-corrupt');
    await mkdir(two);
    await writeFile(join(two, 'train-images-idx3-ubyte'), 'garbage');
    await writeFile(join(two, 'train-labels-idx1-ubyte.gz'), 'garbage');
    const r2 = await cli('pretrain', '--method', 'mae', '--dataset', 'fashion-mnist', '--data-dir', two, '--budget', '1', '--out', join(dir, 'run'));
    expect(r2.code).toBe(1);
    expect(r2.err).toMatch(new RegExp(`^maskedssl pretrain: Fashion-MNIST: --data-dir ${two} does not hold the four IDX files \\(missing t10k-images-idx3-ubyte\\[\\.gz\\], t10k-labels-idx1-ubyte`));
    // The two other files added, the corrupt ones are named when read.
    await writeFile(join(two, 't10k-images-idx3-ubyte'), 'garbage');
    await writeFile(join(two, 't10k-labels-idx1-ubyte'), 'garbage');
    const r3 = await cli('eval', '--features', 'pixels', '--dataset', 'fashion-mnist', '--data-dir', two, '--protocols', 'knn', '--out', join(dir, 'out3'));
    expect(r3.code).toBe(1);
    expect(r3.err).toMatch(new RegExp(`^maskedssl eval: ${two}/train-(images-idx3-ubyte|labels-idx1-ubyte\\.gz): `));
    expect(existsSync(join(dir, 'out1', 'results.json')) || existsSync(join(dir, 'out3', 'results.json'))).toBe(false);
  });

  it('the default preset: fashion-mnist for the small grey datasets, none for cifar', async () => {
    const preset = async (dataset: string) => JSON.parse((await cli('pretrain', '--method', 'mae', '--dataset', dataset, '--print-config')).out).preset;
    expect(await preset('procedural')).toBe('fashion-mnist');
    expect(await preset('mnist')).toBe('fashion-mnist');
    expect(await preset('cifar10')).toBeNull();
  });

  it('a missing checkpoint is a clear runtime error', async () => {
    const r = await cli('eval', '--checkpoint', '/nonexistent/run', '--dataset', 'procedural', '--out', '/tmp/x');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^maskedssl eval: checkpoint \/nonexistent\/run: no such file or folder/);
  });
});

describe('end to end on the procedural dataset', () => {
  it('pretrain, eval, embed, export', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'maskedssl-e2e-'));
    const run = join(dir, 'mae');
    const p = await cli('pretrain', '--method', 'mae', '--dataset', 'procedural', '--budget', '6', '--set', 'trainer.batchSize=32', '--out', run);
    expect(p.code).toBe(0);
    expect(p.out).toMatch(/^mae: 6 steps in \d+s, last loss \d+\.\d+; checkpoint .*step-00000006/);
    expect(JSON.parse(await readFile(join(run, 'config.json'), 'utf8')).method).toBe('mae');
    expect((await readFile(join(run, 'metrics.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(6);
    const again = await cli('pretrain', '--method', 'mae', '--dataset', 'procedural', '--budget', '6', '--out', run);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/--out .* already holds a run with checkpoints: pass --resume/);

    const evalDir = join(dir, 'eval');
    const e = await cli('eval', '--checkpoint', run, '--dataset', 'procedural', '--protocols', 'knn,linear,lowshot', '--train-limit', '400', '--test-limit', '200', '--out', evalDir);
    expect(e.code).toBe(0);
    expect(e.out).toMatch(/\| features \| k-NN@20 \| k-NN@10 \| linear \|/);
    const report = JSON.parse(await readFile(join(evalDir, 'results.json'), 'utf8'));
    const row = report.results[0];
    expect(row.source).toBe('mae');
    expect(row.numTrain).toBe(400);
    expect(row.knn.byK.map((k: { k: number }) => k.k)).toEqual([20, 10]);
    expect(row.linear.accuracy).toBeGreaterThan(0.1); // 10 classes: above chance
    expect(row.lowShot.settings).toHaveLength(4);
    expect(existsSync(join(evalDir, 'results.md'))).toBe(true);

    // random-init in the shape of the run's backbone, against the network the run trained
    const floor = await randomInitLike(run, [28, 28, 1], 0, 'avg');
    expect(floor.backbone).toMatchObject({ embedDim: 128, depth: 4, patchSize: 4 });
    expect(floor.info.backbone).toBe('d128 depth 4 patch 4');
    floor.dispose();
    const floorDir = join(dir, 'floor');
    const f = await cli('eval', '--features', 'random-init', '--backbone', run, '--dataset', 'procedural', '--protocols', 'knn', '--train-limit', '100', '--test-limit', '50', '--out', floorDir);
    expect(f.code).toBe(0);
    expect(JSON.parse(await readFile(join(floorDir, 'results.json'), 'utf8')).results[0]).toMatchObject({ source: 'random-init', featureDim: 128 });
    const bad = await cli('eval', '--features', 'random-init', '--backbone', join(dir, 'nonsense'), '--dataset', 'procedural', '--out', floorDir);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/--backbone: '.*nonsense' is neither a ViT preset \(vit-tiny\/4, .*\) nor a run or checkpoint folder/);

    const feats = join(dir, 'feats.safetensors');
    expect((await cli('embed', '--checkpoint', run, '--dataset', 'procedural', '--split', 'test', '--limit', '50', '--out', feats)).code).toBe(0);
    const decoded = decodeSafetensors(new Uint8Array(await readFile(feats)));
    expect(decoded.tensors.features!.shape).toEqual([50, 128]);
    expect(Array.from(decoded.tensors.indices!.data as Int32Array).slice(0, 3)).toEqual([0, 1, 2]);
    expect(decoded.tensors.labels!.shape).toEqual([50]);
    expect(decoded.metadata.split).toBe('test');

    const model = join(dir, 'model.safetensors');
    expect((await cli('export', '--checkpoint', run, '--format', 'timm', '--out', model)).code).toBe(0);
    const timm = decodeSafetensors(new Uint8Array(await readFile(model)));
    expect(timm.tensors['patch_embed.proj.weight']!.shape).toEqual([128, 1, 4, 4]);
    expect(timm.tensors['blocks.3.attn.qkv.weight']!.shape).toEqual([384, 128]);
    expect(Object.keys(timm.tensors).some((k) => k.startsWith('decoder'))).toBe(false);
  });

  it('bench runs every method on the same budget and writes the table, CSV and plots', async () => {
    const out = await mkdtemp(join(tmpdir(), 'maskedssl-bench-'));
    const r = await cli(
      'bench', '--methods', 'mae,moca', '--budget', '4', '--dataset', 'procedural', '--protocols', 'knn',
      '--knn-every', '2', '--set', 'trainer.batchSize=32', '--set', 'trainer.knnTrain=256', '--set', 'trainer.knnTest=128',
      '--train-limit', '256', '--test-limit', '128', '--out', out,
    );
    expect(r.code).toBe(0);
    const csv = (await readFile(join(out, 'results.csv'), 'utf8')).trim().split('\n');
    expect(csv[0]).toMatch(/^source,seed,steps,img_per_s/);
    expect(csv.slice(1).map((l) => l.split(',')[0])).toEqual(['mae', 'moca', 'pixels', 'random-init']);
    const json = JSON.parse(await readFile(join(out, 'results.json'), 'utf8'));
    expect(json.training.map((t: { steps: number }) => t.steps)).toEqual([4, 4]);
    expect(json.training[0].knnCurve).toHaveLength(2);
    for (const f of ['knn-vs-time.svg', 'knn-vs-time.png', 'loss.svg', 'loss.png', 'results.md']) expect(existsSync(join(out, f)), f).toBe(true);
    const png = await readFile(join(out, 'loss.png'));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(r.out).toMatch(/Budget 4 per method on procedural; backend/);
    // MOCA's preset trains vit-micro/4, MAE's vit-mini/4: the table says it is not like for like.
    expect(r.err).toMatch(/the methods trained 2 different backbones \(not like for like; --set method.backbone=<preset> gives them one\); random-init uses the first method's \(mae: d128 depth 4 patch 4\)/);

    // The same command again trains and evaluates nothing: it reads every result back.
    const again = await cli(
      'bench', '--methods', 'mae,moca', '--budget', '4', '--dataset', 'procedural', '--protocols', 'knn',
      '--knn-every', '2', '--set', 'trainer.batchSize=32', '--set', 'trainer.knnTrain=256', '--set', 'trainer.knnTest=128',
      '--train-limit', '256', '--test-limit', '128', '--out', out,
    );
    expect(again.code).toBe(0);
    expect(again.err).toMatch(/mae \(seed 0\): finished training read back/);
    expect(again.err).not.toMatch(/training for 4/);
    expect((again.err.match(/evaluation read back/g) ?? []).length).toBe(4);
    expect((await readFile(join(out, 'results.csv'), 'utf8')).trim().split('\n')).toEqual(csv);
    // A training interrupted after its last checkpoint continues from it; records logged after that
    // checkpoint are dropped (the steps run again).
    await rm(join(out, 'runs', 'mae-seed0', 'bench-train.json'));
    await appendFile(join(out, 'runs', 'mae-seed0', 'metrics.jsonl'), JSON.stringify({ step: 99, loss: 1, elapsedSeconds: 1, imgPerSec: 1 }) + '\n');
    const resumed = await cli(
      'bench', '--methods', 'mae,moca', '--budget', '4', '--dataset', 'procedural', '--protocols', 'knn',
      '--knn-every', '2', '--set', 'trainer.batchSize=32', '--set', 'trainer.knnTrain=256', '--set', 'trainer.knnTest=128',
      '--train-limit', '256', '--test-limit', '128', '--out', out,
    );
    expect(resumed.code, resumed.err).toBe(0);
    expect(resumed.err).toMatch(/mae \(seed 0\): continuing the interrupted training/);
    const steps = (await readFile(join(out, 'runs', 'mae-seed0', 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l).step);
    expect(steps).toEqual([0, 1, 2, 3]);
    // Another configuration in the same folder is refused, naming the run folder.
    const other = await cli(
      'bench', '--methods', 'mae', '--budget', '5', '--dataset', 'procedural', '--protocols', 'knn',
      '--knn-every', '2', '--set', 'trainer.batchSize=32', '--set', 'trainer.knnTrain=256', '--set', 'trainer.knnTest=128', '--out', out,
    );
    expect(other.code).not.toBe(0);
    expect(other.err).toMatch(/runs\/mae-seed0 holds a mae run with another configuration \(trainer.budget\)/);
  });
});

describe('help', () => {
  const table: [string, Record<string, unknown>, string][] = [
    ['pretrain', pretrainFlags, pretrainHelp], ['eval', evalFlags, evalHelp], ['embed', embedFlags, embedHelp], ['export', exportFlags, exportHelp],
    ['bench', benchFlags, benchHelp], ['info', infoFlags, infoHelp], ['setup', setupFlags, setupHelp],
  ];
  it.each(table)('maskedssl %s --help lists every flag it accepts, and no other', async (name, flags, help) => {
    const r = await cli(name, '--help');
    expect(r.code).toBe(0);
    expect(r.out).toBe(help + '\n');
    const listed = new Set([...help.matchAll(/--([a-z][a-z-]*)/g)].map((m) => m[1]));
    expect([...listed].sort()).toEqual(Object.keys(flags).sort());
  });
});

describe('--import: methods of the user', () => {
  it('registers the ObjectiveDefinitions a module exports, for pretrain, info and the commands that load its checkpoints', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'maskedssl-import-'));
    const file = join(dir, 'my-objective.ts');
    await writeFile(file, `export { toyObjective } from ${JSON.stringify(join(repo, 'packages/core/test/toy-objective.ts'))};\nexport const notAMethod = 42;\n`);
    const rel = relative(process.cwd(), file);
    const info = await cli('info', '--import', rel);
    expect(info.code, info.err).toBe(0);
    expect(info.out).toMatch(/\nmethods: +.*\btoy\b/);
    const run = join(dir, 'run');
    const p = await cli('pretrain', '--import', file, '--method', 'toy', '--dataset', 'procedural', '--budget', '2', '--set', 'trainer.batchSize=8', '--out', run);
    expect(p.code, p.err).toBe(0);
    expect(p.out).toMatch(/^toy: 2 steps/);
    const feats = join(dir, 'feats.safetensors');
    const e = await cli('embed', '--import', file, '--checkpoint', run, '--dataset', 'procedural', '--limit', '8', '--out', feats);
    expect(e.code, e.err).toBe(0);
    expect(decodeSafetensors(new Uint8Array(await readFile(feats))).tensors.features!.shape).toEqual([8, 16]);

    const none = join(dir, 'nothing.mjs');
    await writeFile(none, 'export const answer = 42;\n');
    const broken = join(dir, 'broken.mjs');
    await writeFile(broken, 'export const = ;\n');
    for (const [argv, message] of [
      [['info', '--import', join(dir, 'missing.mjs')], new RegExp(`^maskedssl info: --import ${join(dir, 'missing.mjs')}: no such file`)],
      [['pretrain', '--import', none, '--method', 'toy', '--print-config'], new RegExp(`^maskedssl pretrain: --import ${none}: exports no ObjectiveDefinition`)],
      [['bench', '--import', broken, '--methods', 'toy', '--out', dir], new RegExp(`^maskedssl bench: --import ${broken}: `)],
    ] as const) {
      const r = await cli(...argv);
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(message);
    }
  });
});

describe('signals', () => {
  it('after a kill, --resume drops the metrics logged after the newest checkpoint: every step once', async () => {
    const out = await mkdtemp(join(tmpdir(), 'maskedssl-sigkill-'));
    const args = ['pretrain', '--method', 'mae', '--dataset', 'procedural', '--budget', '10', '--set', 'trainer.batchSize=8', '--set', 'method.backbone=vit-micro/4', '--set', 'trainer.checkpointEvery=4', '--out', out];
    expect((await cli(...args)).code).toBe(0);
    // What a SIGKILL during step 9 leaves: the newest checkpoint at step 8, records of steps 8 and 9
    // logged after it, and half a line being appended.
    const names = (await readdir(join(out, 'checkpoints'))).sort();
    expect(names.at(-1)).toBe('step-00000010');
    await rm(join(out, 'checkpoints', names.at(-1)!), { recursive: true });
    expect((await readdir(join(out, 'checkpoints'))).sort().at(-1)).toBe('step-00000008');
    await appendFile(join(out, 'metrics.jsonl'), '{"step":10,"lo');
    const r = await cli(...args, '--resume');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/resumed from .*step-00000008 at step 8/);
    expect(r.err).toMatch(/dropped 2 metrics records of steps from 8 on/);
    const steps = (await readFile(join(out, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l).step);
    expect(steps).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('SIGINT writes a checkpoint and exits 130; --resume continues from it', async () => {
    const out = await mkdtemp(join(tmpdir(), 'maskedssl-sigint-'));
    const args = ['--import', 'tsx', '--conditions=maskedssl-source', join(repo, 'packages/cli/src/main.ts'), 'pretrain', '--method', 'mae', '--dataset', 'procedural', '--budget', '40', '--set', 'trainer.batchSize=16', '--set', 'trainer.logEvery=1', '--out', out];
    const child = spawn(process.execPath, args, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const code = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (d) => {
        stderr += String(d);
        if (/step 3\//.test(stderr) && !child.killed) child.kill('SIGINT');
      });
      child.on('exit', (c) => resolve(c));
    });
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/stopped by SIGINT; resume with/);
    const names = await readdir(join(out, 'checkpoints'));
    expect(names).toHaveLength(1);
    const step = Number(names[0]!.slice('step-'.length));
    expect(step).toBeGreaterThanOrEqual(3);
    const resume = (budget: string) => cli('pretrain', '--method', 'mae', '--dataset', 'procedural', '--budget', budget, '--set', 'trainer.batchSize=16', '--out', out, '--resume');
    const wrong = await resume('50');
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/belongs to a run with budget 40 steps; resume it with that budget \(got 50 steps\)/);
    const r = await resume('40');
    expect(r.code).toBe(0);
    expect(r.err).toMatch(new RegExp(`resumed from .*step-0*${step} at step ${step}`));
    expect(r.out).toMatch(/^mae: 40 steps/);
  });
});

describe('the program', () => {
  const bin = join(repo, 'packages/cli/bin/maskedssl.js');

  it('runs through a symlink, as npm links it, and leaves out native start-up logs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'maskedssl-bin-'));
    const link = join(dir, 'maskedssl');
    await symlink(bin, link);
    const main = join(repo, 'packages/cli/src/main.ts');
    await symlink(main, join(dir, 'main.ts'));
    expect(isThisFile(join(dir, 'main.ts'), main)).toBe(true);
    expect(isThisFile(link, main)).toBe(false);
    expect(isThisFile(undefined, main)).toBe(false);
    const env = { ...process.env, MASKEDSSL_VERBOSE: '' };
    const r = spawnSync(link, ['info'], { cwd: dir, encoding: 'utf8', env });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^backend: +\S+/);
    expect(r.stdout).toMatch(/\nmethods: +.*mae.*moca/);
    expect(r.stderr).toMatch(/^\[maskedssl\] backend: /);
    expect(r.stderr).not.toMatch(/absl::InitializeLog|oneDNN|XDG_RUNTIME_DIR|Warning: Vulkan/);
    const help = spawnSync(link, ['--help'], { cwd: dir, encoding: 'utf8', env });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: maskedssl <command>/);
  });

  it('NoiseFilter drops TensorFlow I/W and Dawn start-up lines, keeps the rest, and passes a status line at once', () => {
    let out = '';
    const f = new NoiseFilter((s) => (out += s));
    f.push('WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\nI0000 00:00:1796324387.082456   11997 port.cc:153] oneDNN custom operations are on.\n');
    f.push('error: XDG_RUNTIME_DIR is invalid or not set in the environment.\nWarning: Vulkan shaderUniform*ArrayDynamicIndexing required.\n - While initializing adapter (backend=BackendType::Vulkan)\n');
    f.push('    at InitializeImpl (/home/runner/work/node-webgpu/node-webgpu/third_party/dawn/src/dawn/native/vulkan/PhysicalDeviceVk.cpp:257)\n\n');
    expect(out).toBe('');
    f.push('E0000 00:00:1796324387.1   11997 op.cc:1] a real error\n[maskedssl] backend: tensorflow\n\nstep 1/9 | loss');
    expect(out).toBe('E0000 00:00:1796324387.1   11997 op.cc:1] a real error\n[maskedssl] backend: tensorflow\n\nstep 1/9 | loss');
    f.push(' 0.5\r\x1b[2Kstep 2/9\nI00');
    expect(out.endsWith('step 2/9\n')).toBe(true);
    f.push('00 00:00:1.2 7 x.cc:3] more\nIn the end\n');
    expect(out.endsWith('step 2/9\nIn the end\n')).toBe(true);
    f.push('2024-01-01 10:00:00.123456: W tensorflow/core/x.cc:9] old style\nlast words');
    f.flush();
    expect(out.endsWith('In the end\nlast words')).toBe(true);
  });
});
