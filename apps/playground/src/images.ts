// The page's image sources as uint8 pixels: the Fashion-MNIST sample served with the page, IDX files the
// user picks (decoded by core), a folder of class folders decoded by the browser (scaled to cover
// size x size and centre-cropped, greyscale, as the Node loader does), and core's procedural set.
import { decodeIdx, FASHION_MNIST_CLASSES, proceduralDataset, type IdxArray } from '@maskedssl/core';
import type { Images } from './protocol.js';

export interface Split {
  train: Images;
  test?: Images;
  classNames?: readonly string[];
}

function fromIdx(images: IdxArray, labels: IdxArray | undefined, name: string, numClasses?: number): Images {
  const [, h, w] = images.dims as [number, number, number];
  let classes = numClasses;
  if (labels && classes === undefined) classes = Math.max(...labels.data) + 1;
  return { pixels: images.data, shape: [h, w, 1], name, ...(labels ? { labels: labels.data, numClasses: classes } : {}) };
}

/** The sample the build writes into public/data (scripts/make-sample.mjs); null when it is not there. */
export async function fashionMnistSample(): Promise<Split | null> {
  const get = async (file: string) => {
    const r = await fetch(`data/${file}`);
    if (!r.ok) return null;
    const bytes = new Uint8Array(await r.arrayBuffer());
    if (bytes[0] !== 0 || bytes[1] !== 0) return null; // a server's fallback page, not the file
    return decodeIdx(bytes, file);
  };
  const files = await Promise.all(['train-images', 'train-labels', 'test-images', 'test-labels'].map((f) => get(`fashion-mnist-${f}.idx`)));
  if (files.some((f) => f === null)) return null;
  const [ti, tl, si, sl] = files as IdxArray[];
  return {
    train: fromIdx(ti!, tl, 'fashion-mnist-sample/train', 10),
    test: fromIdx(si!, sl, 'fashion-mnist-sample/test', 10),
    classNames: FASHION_MNIST_CLASSES,
  };
}

export function procedural(): Split {
  const make = (count: number, seed: number, name: string): Images => {
    const d = proceduralDataset({ count, seed, size: 28 });
    return { pixels: d.pixels, shape: [28, 28, 1], labels: Uint8Array.from(d.labels!), numClasses: d.numClasses, name };
  };
  return { train: make(4000, 1, 'procedural/train'), test: make(1000, 2, 'procedural/test') };
}

/** IDX files: images are the 3-D arrays, labels the 1-D ones; a name with "t10k" or "test" is the test split. */
export async function idxFiles(files: File[]): Promise<Split> {
  const decoded = await Promise.all(files.map(async (f) => ({ name: f.name, a: await decodeIdx(new Uint8Array(await f.arrayBuffer()), f.name) })));
  const isTest = (n: string) => /t10k|test/i.test(n);
  const pick = (dims: number, test: boolean) => decoded.find((d) => d.a.dims.length === dims && isTest(d.name) === test);
  const trainImages = pick(3, false) ?? pick(3, true);
  if (!trainImages) throw new Error('no IDX images file among the picked files (3 dimensions: n, height, width)');
  const trainLabels = pick(1, false);
  const testImages = trainImages === pick(3, true) ? undefined : pick(3, true);
  const testLabels = pick(1, true);
  const numClasses = Math.max(0, ...[trainLabels, testLabels].flatMap((l) => (l ? [Math.max(...l.a.data) + 1] : [])));
  return {
    train: fromIdx(trainImages.a, trainLabels?.a, trainImages.name, numClasses || undefined),
    ...(testImages ? { test: fromIdx(testImages.a, testLabels?.a, testImages.name, numClasses || undefined) } : {}),
  };
}

/** Decodes one image file to size x size greyscale, scaled to cover and centre-cropped. */
async function decodeImage(file: File, size: number): Promise<Uint8Array> {
  const bitmap = await createImageBitmap(file);
  const scale = Math.max(size / bitmap.width, size / bitmap.height);
  const [w, h] = [bitmap.width * scale, bitmap.height * scale];
  const canvas = new OffscreenCanvas(size, size);
  const ctx = canvas.getContext('2d')!;
  ctx.drawImage(bitmap, (size - w) / 2, (size - h) / 2, w, h);
  const rgba = ctx.getImageData(0, 0, size, size).data;
  const out = new Uint8Array(size * size);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(0.2126 * rgba[4 * i]! + 0.7152 * rgba[4 * i + 1]! + 0.0722 * rgba[4 * i + 2]!);
  bitmap.close();
  return out;
}

/** A picked folder `root/<class>/*.png|jpg|jpeg` (classes in sorted order), every image in the train split. */
export async function imageFolder(files: File[], size = 28): Promise<Split> {
  const images = files.filter((f) => /\.(png|jpe?g)$/i.test(f.name));
  const classOf = (f: File) => f.webkitRelativePath.split('/').slice(-2, -1)[0] ?? '';
  const classNames = [...new Set(images.map(classOf))].sort();
  if (images.length === 0) throw new Error('the picked folder has no .png or .jpg images');
  images.sort((a, b) => a.webkitRelativePath.localeCompare(b.webkitRelativePath));
  const pixels = new Uint8Array(images.length * size * size);
  const labels = new Uint8Array(images.length);
  for (const [i, f] of images.entries()) {
    pixels.set(await decodeImage(f, size), i * size * size);
    labels[i] = classNames.indexOf(classOf(f));
  }
  return { train: { pixels, labels, numClasses: classNames.length, shape: [size, size, 1], name: 'your-images' }, classNames };
}

/** The first `n` images of a set (labels too). */
export function firstImages(images: Images, n: number): Images {
  const size = images.shape.reduce((a, b) => a * b, 1);
  return { ...images, pixels: images.pixels.slice(0, n * size), ...(images.labels ? { labels: images.labels.slice(0, n) } : {}), name: `${images.name} (first ${n})` };
}

/** `shots` labelled images per class (the first ones of each class). */
export function perClass(images: Images, shots: number): Images {
  const size = images.shape.reduce((a, b) => a * b, 1);
  const counts = new Map<number, number>();
  const chosen: number[] = [];
  images.labels!.forEach((l, i) => {
    if ((counts.get(l) ?? 0) < shots) {
      counts.set(l, (counts.get(l) ?? 0) + 1);
      chosen.push(i);
    }
  });
  const pixels = new Uint8Array(chosen.length * size);
  chosen.forEach((i, j) => pixels.set(images.pixels.subarray(i * size, (i + 1) * size), j * size));
  return { ...images, pixels, labels: Uint8Array.from(chosen, (i) => images.labels![i]!), name: `${shots} per class of ${images.name}` };
}

/** An image as a small canvas (greyscale or RGB uint8). */
export function thumbnail(images: Images, index: number, scale = 3): HTMLCanvasElement {
  const [h, w, c] = images.shape;
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  canvas.style.width = `${w * scale}px`;
  canvas.style.imageRendering = 'pixelated';
  const data = new ImageData(w, h);
  const base = index * h * w * c;
  for (let p = 0; p < h * w; p++) {
    for (let k = 0; k < 3; k++) data.data[4 * p + k] = images.pixels[base + p * c + (c === 3 ? k : 0)]!;
    data.data[4 * p + 3] = 255;
  }
  canvas.getContext('2d')!.putImageData(data, 0, 0);
  return canvas;
}
