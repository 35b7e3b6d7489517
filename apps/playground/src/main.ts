// The playground page: three tabs over one worker (worker.ts). Train: a registered method on a dataset
// and backend of the user's choice, with live loss and online k-NN plots, pause / resume / stop and a
// checkpoint download. See: each method's masks, nearest neighbours. Use: load a checkpoint, embed,
// classify from a few labelled examples.
import { backendNames, listObjectives, registerObjectivesOf, vitPresetNames, type BackendName, type StepRecord } from '@maskedssl/core';
import * as baselines from '@maskedssl/baselines';
import * as moca from '@maskedssl/moca';
import { fashionMnistSample, firstImages, idxFiles, imageFolder, perClass, procedural, thumbnail, type Split } from './images.js';
import { drawLine } from './plot.js';
import type { FromWorker, Images, ToWorker } from './protocol.js';

registerObjectivesOf(moca, baselines);
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** What the page has seen, for people and for the browser tests. */
const state = {
  records: [] as StepRecord[],
  done: false,
  error: null as string | null,
  backend: null as string | null,
  saved: null as { name: string; size: number } | null,
  loaded: null as { method: string; step: number } | null,
  features: null as { features: Float32Array; dim: number } | null,
  classified: null as { knnAccuracy?: number; logisticAccuracy?: number; shots: number } | null,
  masks: 0,
  /** What the last See drew: rows of images, and whether a network's predictions were among them. */
  seen: null as { network: string | null; reconstruction: boolean; assignments: boolean } | null,
};
(window as unknown as { playground: typeof state }).playground = state;

// ---- what this browser supports ----
const browserBackends = backendNames.filter((b): b is BackendName => b !== 'tensorflow' && b !== 'tensorflow-gpu');
function supported(b: BackendName): boolean {
  if (b === 'webgpu') return 'gpu' in navigator;
  if (b === 'webgl') return document.createElement('canvas').getContext('webgl2') !== null;
  if (b === 'wasm') return typeof WebAssembly === 'object';
  return true;
}
$('support').textContent = `This browser: ${browserBackends.map((b) => `${b} ${supported(b) ? 'yes' : 'no'}`).join(', ')}. Native TensorFlow runs in Node only (the maskedssl CLI).`;
for (const id of ['backend', 'use-backend']) {
  const select = $<HTMLSelectElement>(id);
  for (const b of browserBackends) select.add(new Option(`${b}${supported(b) ? '' : ' (not in this browser)'}`, b, false, false));
  select.value = browserBackends.find(supported) ?? 'cpu';
}
for (const id of ['method', 'see-method']) for (const d of listObjectives()) $<HTMLSelectElement>(id).add(new Option(`${d.name}: ${d.summary.slice(0, 70)}`, d.name));
$<HTMLSelectElement>('method').value = 'moca';
$<HTMLSelectElement>('see-method').value = 'moca';
for (const p of vitPresetNames) $<HTMLSelectElement>('backbone').add(new Option(p, p));
$<HTMLSelectElement>('backbone').value = 'vit-micro/4';

// ---- tabs ----
for (const button of document.querySelectorAll<HTMLButtonElement>('nav button')) {
  button.onclick = () => {
    for (const b of document.querySelectorAll('nav button')) b.classList.toggle('active', b === button);
    for (const tab of ['train', 'see', 'use']) $(`tab-${tab}`).hidden = tab !== button.dataset.tab;
  };
}

// ---- the worker ----
const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const send = (m: ToWorker, transfer: Transferable[] = []) => worker.postMessage(m, transfer);
const log = (line: string) => {
  const pre = $('log');
  pre.textContent = `${pre.textContent}${line}\n`.split('\n').slice(-40).join('\n');
};
let requestId = 0;
const pending = new Map<number, (m: FromWorker) => void>();
const ask = (m: ToWorker & { id: number }, transfer: Transferable[] = []) => new Promise<FromWorker>((resolve) => (pending.set(m.id, resolve), send(m, transfer)));

worker.onmessage = (event: MessageEvent<FromWorker>) => {
  const m = event.data;
  switch (m.type) {
    case 'backend':
      state.backend = m.backend.name;
      log(`backend: ${m.backend.name}${m.backend.adapter ? ` on ${m.backend.adapter.description || m.backend.adapter.architecture}` : ''}${m.backend.skipped.length ? ` (skipped ${m.backend.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')})` : ''}`);
      break;
    case 'step':
      state.records.push(m.record);
      showProgress(m.record);
      break;
    case 'message':
      log(m.text);
      break;
    case 'paused':
      $('status').textContent += ' (paused)';
      break;
    case 'done':
      state.done = true;
      log(`done: ${m.steps} steps in ${m.seconds.toFixed(1)} s (${m.stoppedBy})`);
      setRunning(false);
      $<HTMLButtonElement>('save').disabled = false; // the trained state can still be downloaded
      break;
    case 'saved': {
      state.saved = { name: m.name, size: m.bytes.length };
      const a = document.createElement('a');
      a.href = URL.createObjectURL(new Blob([m.bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
      a.download = m.name;
      a.click();
      log(`checkpoint ${m.name} (${(m.bytes.length / 2 ** 20).toFixed(1)} MiB): evaluate it with 'maskedssl eval --checkpoint ${m.name}'`);
      break;
    }
    case 'loaded':
      state.loaded = { method: m.method, step: m.step };
      $('use-status').textContent = `Loaded ${m.method} at step ${m.step} (${m.backbone}; ${m.dim} features per image).`;
      break;
    case 'error':
      state.error = m.message;
      log(`error: ${m.message}`);
      $('use-status').textContent = `Error: ${m.message}`;
      setRunning(false);
      break;
    case 'features':
    case 'classified':
    case 'masks':
      pending.get(m.id)?.(m);
      pending.delete(m.id);
      break;
  }
};

// ---- Train ----
let split: Split | null = null;
async function chosenData(): Promise<Split> {
  const kind = $<HTMLSelectElement>('dataset').value;
  if (kind === 'fashion-mnist') {
    const s = await fashionMnistSample();
    if (!s) throw new Error("the Fashion-MNIST sample was not built with this page (it needs the dataset's IDX files at build time); pick another dataset");
    return s;
  }
  if (kind === 'procedural') return procedural();
  if (kind === 'idx') return idxFiles([...($<HTMLInputElement>('idx-input').files ?? [])]);
  return imageFolder([...($<HTMLInputElement>('folder-input').files ?? [])]);
}
$<HTMLSelectElement>('dataset').onchange = () => {
  $('idx-files').hidden = $<HTMLSelectElement>('dataset').value !== 'idx';
  $('folder-files').hidden = $<HTMLSelectElement>('dataset').value !== 'folder';
};

function setRunning(running: boolean): void {
  $<HTMLButtonElement>('start').disabled = running;
  for (const id of ['pause', 'stop', 'save']) $<HTMLButtonElement>(id).disabled = !running;
  $('pause').textContent = 'Pause';
}

function showProgress(r: StepRecord): void {
  const eta = Number.isFinite(r.etaSeconds) ? `${Math.round(r.etaSeconds)} s` : '?';
  const knn = [...state.records].reverse().find((x) => x.knn !== undefined)?.knn;
  $('status').textContent = `step ${r.step + 1} / ${r.totalSteps}, loss ${r.loss.toFixed(4)}, ${r.imgPerSec.toFixed(1)} img/s, ETA ${eta}${knn !== undefined ? `, k-NN ${(100 * knn).toFixed(1)}%` : ''}`;
  drawLine($('loss-plot'), state.records.map((x) => [x.elapsedSeconds, x.loss]), { xLabel: 's', yLabel: 'loss' });
  drawLine($('knn-plot'), state.records.filter((x) => x.knn !== undefined).map((x) => [x.elapsedSeconds, x.knn!]), { xLabel: 's', yLabel: 'k-NN top-1', percent: true });
}

$('start').onclick = async () => {
  state.records = [];
  state.done = false;
  state.error = null;
  setRunning(true);
  try {
    split = await chosenData();
    const train: Images = { ...split.train, pixels: split.train.pixels.slice() };
    const test = split.test ? { ...split.test, pixels: split.test.pixels.slice() } : undefined;
    send({
      type: 'train',
      request: {
        method: $<HTMLSelectElement>('method').value,
        backbone: $<HTMLSelectElement>('backbone').value,
        backend: $<HTMLSelectElement>('backend').value as BackendName,
        budget: $<HTMLInputElement>('budget').value,
        batchSize: Number($<HTMLInputElement>('batch').value),
        knnEvery: Number($<HTMLInputElement>('knn-every').value),
        seed: 0,
        train,
        ...(test ? { test } : {}),
      },
    });
  } catch (e) {
    state.error = (e as Error).message;
    log(`error: ${(e as Error).message}`);
    setRunning(false);
  }
};
$('pause').onclick = () => {
  const pausing = $('pause').textContent === 'Pause';
  send({ type: pausing ? 'pause' : 'resume' });
  $('pause').textContent = pausing ? 'Resume' : 'Pause';
};
$('stop').onclick = () => send({ type: 'stop' });
$('save').onclick = () => send({ type: 'save' });

// ---- See ----
async function testImages(): Promise<Images> {
  split ??= (await fashionMnistSample()) ?? procedural();
  return split.test ?? split.train;
}

$('draw-masks').onclick = async () => {
  const images = firstImages(await testImages(), 6);
  const r = await ask({ type: 'masks', images, method: $<HTMLSelectElement>('see-method').value, backbone: $<HTMLSelectElement>('backbone').value, id: ++requestId });
  const box = $('masks');
  box.textContent = '';
  if (r.type !== 'masks') return;
  state.masks++;
  state.seen = { network: r.network, reconstruction: r.reconstruction !== undefined, assignments: r.assignments !== undefined };
  const row = (label: string, canvases: HTMLCanvasElement[]) => {
    const div = document.createElement('div');
    div.className = 'thumbs';
    div.append(Object.assign(document.createElement('span'), { textContent: label }), ...canvases);
    box.append(div);
  };
  const n = r.rounds[0]!.visible.length;
  box.append(Object.assign(document.createElement('p'), { textContent: r.network ? `With the network of ${r.network}.` : 'Masks only: train or load a network of this method to see its predictions.' }));
  row('images', Array.from({ length: n }, (_, i) => thumbnail(images, i, 4)));
  for (const round of r.rounds) row(round.label, round.visible.map((visible, i) => maskedThumbnail(images, i, r.grid, visible)));
  if (r.reconstruction) {
    const recon = { ...images, pixels: r.reconstruction };
    row('reconstruction (masked patches predicted)', Array.from({ length: n }, (_, i) => thumbnail(recon, i, 4)));
  }
  if (r.assignments) {
    const { words, numWords } = r.assignments;
    row(`teacher's codeword per token (of ${numWords})`, words.map((w, i) => codewordThumbnail(images, i, r.grid, w)));
  }
};

/** The image with each token tinted by its codeword (one hue per word). */
function codewordThumbnail(images: Images, index: number, grid: number, words: Int32Array): HTMLCanvasElement {
  const canvas = thumbnail(images, index, 4);
  const ctx = canvas.getContext('2d')!;
  const cell = images.shape[0] / grid;
  for (let t = 0; t < grid * grid; t++) {
    ctx.fillStyle = `hsla(${(words[t]! * 137.508) % 360}, 75%, 50%, 0.55)`;
    ctx.fillRect((t % grid) * cell, Math.floor(t / grid) * cell, cell, cell);
  }
  return canvas;
}

function maskedThumbnail(images: Images, index: number, grid: number, visible: Int32Array): HTMLCanvasElement {
  const canvas = thumbnail(images, index, 4);
  const ctx = canvas.getContext('2d')!;
  const cell = images.shape[0] / grid;
  const seen = new Set(visible);
  ctx.fillStyle = 'rgba(20, 30, 60, 0.8)';
  for (let t = 0; t < grid * grid; t++) if (!seen.has(t)) ctx.fillRect((t % grid) * cell, Math.floor(t / grid) * cell, cell, cell);
  return canvas;
}

// Nearest neighbours of a clicked test image among the training images.
async function showQueries(): Promise<void> {
  const images = firstImages(await testImages(), 12);
  const box = $('queries');
  box.textContent = '';
  for (let i = 0; i < 12; i++) {
    const t = thumbnail(images, i, 3);
    t.onclick = () => void neighbours(images, i);
    box.append(t);
  }
}
async function embedImages(images: Images): Promise<{ features: Float32Array; dim: number }> {
  const r = await ask({ type: 'embed', images, id: ++requestId });
  if (r.type !== 'features') throw new Error('no features');
  return r;
}
async function neighbours(queries: Images, index: number): Promise<void> {
  const pool = firstImages(split!.train, 2000);
  const size = queries.shape.reduce((a, b) => a * b, 1);
  const [q, p] = [await embedImages(firstImages({ ...queries, pixels: queries.pixels.slice(index * size) }, 1)), await embedImages(pool)];
  const norm = (v: Float32Array) => Math.sqrt(v.reduce((a, x) => a + x * x, 0));
  const qn = norm(q.features);
  const scores = Array.from({ length: p.features.length / p.dim }, (_, j) => {
    const row = p.features.subarray(j * p.dim, (j + 1) * p.dim);
    return { j, s: row.reduce((a, x, k) => a + x * q.features[k]!, 0) / (qn * norm(row)) };
  }).sort((a, b) => b.s - a.s);
  const box = $('neighbours');
  box.textContent = '';
  for (const { j } of scores.slice(0, 8)) box.append(thumbnail(pool, j, 3));
}
document.querySelector<HTMLButtonElement>('nav button[data-tab="see"]')!.addEventListener('click', () => void showQueries());

// ---- Use ----
$<HTMLInputElement>('ckpt-input').onchange = async () => {
  const files = await Promise.all([...($<HTMLInputElement>('ckpt-input').files ?? [])].map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })));
  $('use-status').textContent = 'Loading...';
  send({ type: 'load', files, backend: $<HTMLSelectElement>('use-backend').value as BackendName });
};
$('embed').onclick = async () => {
  state.features = await embedImages(firstImages(await testImages(), 4));
  $('classify-result').textContent = `Embedded 4 images: ${state.features.dim} features each; first image starts ${Array.from(state.features.features.slice(0, 4), (v) => v.toFixed(4)).join(', ')}`;
};
$('classify').onclick = async () => {
  split ??= (await fashionMnistSample()) ?? procedural();
  const shots = Number($<HTMLInputElement>('shots').value);
  const labelled = perClass(split.train, shots);
  const query = firstImages(split.test ?? split.train, 500);
  const r = await ask({ type: 'classify', labelled, query, id: ++requestId });
  if (r.type !== 'classified') return;
  state.classified = { shots: r.shots, ...(r.knnAccuracy !== undefined ? { knnAccuracy: r.knnAccuracy, logisticAccuracy: r.logisticAccuracy! } : {}) };
  $('classify-result').textContent =
    `From ${r.shots} labelled images per class: ` +
    (r.knnAccuracy !== undefined ? `k-NN ${(100 * r.knnAccuracy).toFixed(1)}%, logistic regression ${(100 * r.logisticAccuracy!).toFixed(1)}% on ${query.labels!.length} test images.` : 'predicted.');
  const names = split.classNames;
  const box = $('predictions');
  box.textContent = '';
  for (let i = 0; i < 12; i++) {
    const figure = document.createElement('figure');
    figure.append(thumbnail(query, i, 3), Object.assign(document.createElement('figcaption'), { textContent: names?.[r.predictions[i]!] ?? String(r.predictions[i]) }));
    box.append(figure);
  }
};
