// The playground's worker: trains a registered method on the images it is sent (the core Trainer,
// online k-NN on the test images), pauses and resumes, hands out the state as the single-file
// checkpoint `maskedssl eval` reads, loads checkpoints (ours or the CLI's), embeds images with the
// loaded or training network, and draws the methods' masks.
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import {
  extractFeatures, getObjective, gridSize, knnClassify, lowShot, requireLabels, initBackend, objectiveFromCheckpoint, parseCheckpoint, parseSingleFileCheckpoint, parseTrainerConfig,
  randomTokenMask, registerObjectivesOf, Rng, setCheckpointReader, sha256Hex, singleFileCheckpoint, Trainer, Uint8Dataset, vitConfigForImages, vitFeatureFn,
  type BackendName, type LoadedCheckpoint, type Objective, type StepRecord,
} from '@maskedssl/core';
import * as baselines from '@maskedssl/baselines';
import * as moca from '@maskedssl/moca';
import type { FromWorker, Images, ToWorker, TrainRequest } from './protocol.js';

setWasmPaths({ 'tfjs-backend-wasm.wasm': wasmPlain, 'tfjs-backend-wasm-simd.wasm': wasmSimd, 'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded });
registerObjectivesOf(moca, baselines);

const post = (m: FromWorker, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);

function dataset(images: Images): Uint8Dataset {
  return new Uint8Dataset({
    name: images.name,
    imageShape: images.shape,
    pixels: images.pixels,
    labels: images.labels ?? null,
    numClasses: images.labels ? (images.numClasses ?? 0) : 0,
  });
}

async function useBackend(name: BackendName): Promise<void> {
  const info = await initBackend({ prefer: name, log: null });
  post({ type: 'backend', backend: { name: info.name, ...(info.adapter ? { adapter: info.adapter } : {}), skipped: info.skipped } });
}

/** The method's fashion-mnist preset with the chosen backbone (MOMA: the loaded checkpoint as its teacher). */
function methodConfig(method: string, backbone: string): Record<string, unknown> {
  const def = getObjective(method);
  const teachers = method === 'moma' && loaded ? { teachers: [{ checkpoint: loaded.checkpoint.path }] } : {};
  return def.configSchema.parse({ ...(def.presets['fashion-mnist'] ?? {}), backbone, ...teachers }) as Record<string, unknown>;
}

// Methods that build on checkpoints (MOMA's teacher) read them here: the one loaded in the Use tab.
setCheckpointReader((path) => {
  if (loaded && path === loaded.checkpoint.path) return loaded.checkpoint;
  throw new Error(`checkpoint ${path}: not loaded in this page (load the teacher's checkpoint in the Use tab first)`);
});

interface Training {
  trainer: Trainer;
  objective: Objective;
  paused: boolean;
  stopped: boolean;
  saveRequested: boolean;
  /** The budget is spent or the run was stopped: nothing runs, the state can still be saved or used. */
  finished: boolean;
  /** Steps done so far. */
  steps: number;
  running: Promise<void> | null;
}
let training: Training | null = null;
/** The network the Use tab embeds with: a loaded checkpoint's, or the training one's. */
let loaded: { objective: Objective; checkpoint: LoadedCheckpoint } | null = null;

async function train(r: TrainRequest): Promise<void> {
  if (training && !training.finished) throw new Error('a training run is already in this page; stop it first');
  if (training) {
    training.trainer.dispose();
    if (loaded?.objective !== training.objective) training.objective.dispose();
    training = null;
  }
  await useBackend(r.backend);
  const def = getObjective(r.method);
  const config = methodConfig(r.method, r.backbone);
  const trainerConfig = parseTrainerConfig({
    ...(def.trainerPresets?.['fashion-mnist'] ?? {}),
    budget: r.budget,
    batchSize: r.batchSize,
    seed: r.seed,
    knnEvery: r.test?.labels ? r.knnEvery : 0,
    knnTrain: Math.min(1000, r.train.pixels.length / r.train.shape.reduce((a, b) => a * b, 1)),
    knnTest: 500,
  });
  const train = dataset(r.train);
  const objective = await def.create(config as never, { imageShape: r.train.shape, batchSize: r.batchSize, rng: new Rng(r.seed + 1) });
  const trainer = new Trainer({
    objective,
    method: r.method,
    config: trainerConfig,
    dataset: train,
    ...(trainerConfig.knnEvery > 0 && r.test ? { knnData: { train, test: dataset(r.test) } } : {}),
    runInfo: { method: r.method, methodConfig: config, imageShape: r.train.shape, batchSize: r.batchSize, dataset: { name: r.train.name } },
    reporter: {
      step: (record: StepRecord) => {
        t.steps = record.step + 1;
        post({ type: 'step', record });
      },
      message: (text) => post({ type: 'message', text }),
      close: () => undefined,
    },
    handleSignals: false,
  });
  const t: Training = { trainer, objective, paused: false, stopped: false, saveRequested: false, finished: false, steps: 0, running: null };
  training = t;
  t.running = (async () => {
    for (;;) {
      const result = await trainer.run({ stopWhen: () => t.paused || t.stopped || t.saveRequested });
      if (t.saveRequested) {
        t.saveRequested = false;
        await save(t);
        if (!t.paused && !t.stopped) continue;
      }
      if (result.stoppedBy === 'budget' || t.stopped) {
        t.finished = true;
        post({ type: 'done', steps: result.steps, stoppedBy: t.stopped ? 'stop' : 'budget', seconds: result.elapsedSeconds });
        return;
      }
      post({ type: 'paused', step: result.steps });
      await new Promise<void>((resume) => (resumeTraining = resume));
    }
  })().catch((e: Error) => post({ type: 'error', message: e.message }));
}

let resumeTraining: (() => void) | null = null;

async function save(t: Training): Promise<void> {
  const files = await t.trainer.encodeCheckpoint();
  const bytes = singleFileCheckpoint(files);
  const step = (JSON.parse(files.stateJson) as { step: number }).step;
  const name = `${t.objective.name}-step-${String(step).padStart(6, '0')}.safetensors`;
  post({ type: 'saved', name, bytes }, [bytes.buffer]);
}

async function load(files: { name: string; bytes: Uint8Array }[], backend: BackendName): Promise<void> {
  await useBackend(backend);
  let checkpoint: LoadedCheckpoint;
  const single = files.find((f) => f.name.endsWith('.safetensors') && files.length === 1);
  if (single) checkpoint = parseSingleFileCheckpoint(single.bytes, single.name);
  else {
    const tensors = files.find((f) => f.name === 'tensors.safetensors');
    const state = files.find((f) => f.name === 'state.json');
    if (!tensors || !state) throw new Error('pick one checkpoint file (.safetensors), or the two files of a checkpoint folder: tensors.safetensors and state.json');
    checkpoint = parseCheckpoint(tensors.bytes, new TextDecoder().decode(state.bytes), await sha256Hex(tensors.bytes), 'the picked checkpoint');
  }
  const rebuilt = await objectiveFromCheckpoint(checkpoint);
  loaded?.objective.dispose();
  loaded = { objective: rebuilt.objective, checkpoint };
  const { config } = rebuilt.objective.backbone();
  post({ type: 'loaded', method: rebuilt.run.method, step: checkpoint.step, backbone: `d${config.embedDim}, depth ${config.depth}, patch ${config.patchSize}`, dim: config.embedDim });
}

async function embed(images: Images, id: number): Promise<void> {
  const source = loaded?.objective ?? training?.objective;
  if (!source) throw new Error('no network yet: load a checkpoint or train one');
  const { config, params } = source.backbone();
  // The harness's own path (batches in [0, 1], average-pooled tokens), as `maskedssl embed` runs it.
  const { features, dim } = await extractFeatures(dataset({ ...images, labels: undefined }), vitFeatureFn(config, params));
  post({ type: 'features', id, features, dim }, [features.buffer]);
}

async function classify(labelled: Images, query: Images, id: number): Promise<void> {
  const source = loaded?.objective ?? training?.objective;
  if (!source) throw new Error('no network yet: load a checkpoint or train one');
  if (!labelled.labels) throw new Error('the labelled examples have no labels');
  const { config, params } = source.backbone();
  const fn = vitFeatureFn(config, params);
  const train = requireLabels(await extractFeatures(dataset(labelled), fn), 'the labelled examples');
  const n = query.pixels.length / query.shape.reduce((a, b) => a * b, 1);
  const test = requireLabels(await extractFeatures(dataset({ ...query, labels: query.labels ?? new Uint8Array(n), numClasses: labelled.numClasses }), fn));
  post({ type: 'message', text: `classify: features of ${train.n} labelled and ${test.n} query images at ${(performance.now() / 1000).toFixed(1)} s` });
  const k = Math.max(1, Math.min(20, Math.floor(train.n / Math.max(1, labelled.numClasses ?? 1))));
  const knn = await knnClassify(train, test, { ks: [k], keepPredictions: true, numClasses: labelled.numClasses });
  const counts = new Map<number, number>();
  for (const l of train.labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  const shots = Math.min(...counts.values());
  post({ type: 'message', text: `classify: k-NN done at ${(performance.now() / 1000).toFixed(1)} s` });
  const logistic = query.labels ? await lowShot(train, test, { settings: [shots], repeats: 1, numClasses: labelled.numClasses }) : null;
  post({
    type: 'classified',
    id,
    predictions: knn.perK[0]!.predictions!,
    shots,
    ...(query.labels ? { knnAccuracy: knn.perK[0]!.accuracy, logisticAccuracy: logistic!.settings[0]!.mean } : {}),
  });
}

/**
 * Which tokens each view or masking round of `method` sees for the given images; with a network of that
 * method (training or loaded), also what it predicts: reconstructions (MAE, SimMIM) or the teacher's
 * codeword per token (MOCA).
 */
async function masks(images: Images, method: string, backbone: string, id: number): Promise<void> {
  const [h, w, c] = images.shape;
  const n = images.pixels.length / (h * w * c);
  const rows = (t: Int32Array, k: number) => Array.from({ length: n }, (_, i) => t.slice(i * k, (i + 1) * k));
  const network = [training?.objective, loaded?.objective].find((o) => o?.name === method && o.maskedView);
  if (network) {
    const x = tf.tidy(() => tf.div(tf.tensor4d(images.pixels, [n, h, w, c], 'float32'), 255) as tf.Tensor4D);
    const view = network.maskedView!(x, new Rng(1));
    const rounds = [];
    for (const r of view.rounds) rounds.push({ label: r.label, visible: rows((await r.visible.data()) as Int32Array, r.visible.shape[1]) });
    const reconstruction = view.reconstruction ? Uint8Array.from(await view.reconstruction.data(), (v) => Math.round(255 * v)) : undefined;
    const words = view.assignments ? rows((await view.assignments.words.data()) as Int32Array, view.assignments.words.shape[1]) : undefined;
    tf.dispose([x, ...view.rounds.map((r) => r.visible), ...(view.reconstruction ? [view.reconstruction] : []), ...(view.assignments ? [view.assignments.words] : [])]);
    const step = training?.objective === network ? training.steps : loaded!.checkpoint.step;
    post({
      type: 'masks', id, grid: gridSize(network.backbone().config), rounds, network: `${method} after ${step} steps`,
      ...(reconstruction ? { reconstruction } : {}),
      ...(words ? { assignments: { words, numWords: view.assignments!.numWords } } : {}),
    });
    return;
  }
  const config = methodConfig(method, backbone);
  const tokens = gridOf(method, backbone, images) ** 2;
  const rng = new Rng(1);
  let rounds: { label: string; visible: Int32Array[] }[];
  if (method === 'moca') {
    const s = moca.maskSizes(config as never, tokens);
    const r = moca.maskingRounds(rng, n, tokens, s);
    rounds = [
      { label: `round 1 sees ${s.visible1}`, visible: rows((await r.visible[0].data()) as Int32Array, s.visible1) },
      { label: `round 2 sees ${s.visible2}`, visible: rows((await r.visible[1].data()) as Int32Array, s.visible2) },
    ];
    tf.dispose([...r.visible, r.masked, r.keep, r.scored, r.tokenWeights]);
  } else if (typeof config.maskRatio === 'number') {
    const m = randomTokenMask(rng, n, tokens, config.maskRatio);
    const k = m.keep.shape[1];
    rounds = [{ label: `sees ${k} of ${tokens} (mask ratio ${config.maskRatio})`, visible: rows((await m.keep.data()) as Int32Array, k) }];
    tf.dispose([m.keep, m.masked, m.restore, m.mask]);
  } else {
    throw new Error(`${method} masks no tokens (it learns from augmented views${method === 'mfm' ? ', or masks frequencies' : ''})`);
  }
  post({ type: 'masks', id, grid: gridOf(method, backbone, images), rounds, network: null });
}

function gridOf(method: string, backbone: string, images: Images): number {
  const config = methodConfig(method, backbone);
  return gridSize(vitConfigForImages(config.backbone as never, (config.backboneOverrides ?? {}) as never, images.shape, method));
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const m = event.data;
  const fail = (e: Error) => post({ type: 'error', message: e.message });
  try {
    switch (m.type) {
      case 'train':
        train(m.request).catch(fail);
        break;
      case 'pause':
        if (training) training.paused = true;
        break;
      case 'resume':
        if (training) training.paused = false;
        resumeTraining?.();
        resumeTraining = null;
        break;
      case 'stop':
        if (training) training.stopped = true;
        resumeTraining?.();
        resumeTraining = null;
        break;
      case 'save':
        if (!training) throw new Error('nothing is training');
        if (training.paused || training.finished) save(training).catch(fail);
        else training.saveRequested = true;
        break;
      case 'load':
        load(m.files, m.backend).catch(fail);
        break;
      case 'embed':
        embed(m.images, m.id).catch(fail);
        break;
      case 'masks':
        masks(m.images, m.method, m.backbone, m.id).catch(fail);
        break;
      case 'classify':
        classify(m.labelled, m.query, m.id).catch(fail);
        break;
    }
  } catch (e) {
    fail(e as Error);
  }
};
