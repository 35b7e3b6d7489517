// CIFAR-10 and CIFAR-100 in their binary distributions (the extracted `cifar-10-batches-bin` and
// `cifar-100-binary` folders). Each file is a sequence of records: label byte(s), then a 32x32 image as
// 3072 bytes in CHW order (1024 red, 1024 green, 1024 blue), which is converted to HWC here.
//   CIFAR-10:  data_batch_1.bin .. data_batch_5.bin (train), test_batch.bin; 1 label byte;
//              class names from batches.meta.txt when present.
//   CIFAR-100: train.bin, test.bin; 2 label bytes (coarse, fine), the fine label is used;
//              class names from fine_label_names.txt when present.
// The folder is the one given (the CLI's --data-dir); nothing else is searched, and an error names it.
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Uint8Dataset } from '../data/uint8-dataset.js';

const SIDE = 32;
const PLANE = SIDE * SIDE;
const IMAGE_BYTES = 3 * PLANE;

export interface CifarRecords {
  /** n * 32 * 32 * 3 bytes, HWC. */
  pixels: Uint8Array;
  labels: Uint8Array;
}

/**
 * Decodes CIFAR binary records: `labelBytes` label bytes (the one at `labelIndex` is kept) then 3072 CHW
 * image bytes. `source` names the file in errors.
 */
export function parseCifarRecords(bytes: Uint8Array, labelBytes: number, labelIndex: number, source: string): CifarRecords {
  const recordBytes = labelBytes + IMAGE_BYTES;
  if (bytes.length === 0 || bytes.length % recordBytes !== 0) {
    throw new Error(
      `${source}: length ${bytes.length} is not a positive multiple of the ${recordBytes}-byte record size ` +
        `(${labelBytes} label byte${labelBytes > 1 ? 's' : ''} + ${IMAGE_BYTES} image bytes; truncated or not a CIFAR file?)`,
    );
  }
  const n = bytes.length / recordBytes;
  const pixels = new Uint8Array(n * IMAGE_BYTES);
  const labels = new Uint8Array(n);
  for (let r = 0; r < n; r++) {
    const rec = r * recordBytes;
    labels[r] = bytes[rec + labelIndex]!;
    const img = rec + labelBytes;
    const out = r * IMAGE_BYTES;
    for (let p = 0; p < PLANE; p++) {
      pixels[out + 3 * p] = bytes[img + p]!;
      pixels[out + 3 * p + 1] = bytes[img + PLANE + p]!;
      pixels[out + 3 * p + 2] = bytes[img + 2 * PLANE + p]!;
    }
  }
  return { pixels, labels };
}

async function readOrExplain(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new Error(`${path}: cannot read ${what} (${(e as Error).message})`);
  }
}

/** Non-empty trimmed lines of a class-name file, or undefined when the file does not exist. */
async function readClassNames(path: string, numClasses: number): Promise<string[] | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${path}: cannot read class names (${(e as Error).message})`);
  }
  const names = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  if (names.length !== numClasses) {
    throw new Error(`${path}: expected ${numClasses} class names, found ${names.length}`);
  }
  return names;
}

interface CifarSpec {
  id: string;
  /** The folder the archive extracts to. */
  folder: string;
  files: { train: string[]; test: string[] };
  labelBytes: number;
  labelIndex: number;
  numClasses: number;
  namesFile: string;
}

const CIFAR10: CifarSpec = {
  id: 'cifar-10',
  folder: 'cifar-10-batches-bin',
  files: { train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`), test: ['test_batch.bin'] },
  labelBytes: 1,
  labelIndex: 0,
  numClasses: 10,
  namesFile: 'batches.meta.txt',
};

const CIFAR100: CifarSpec = {
  id: 'cifar-100',
  folder: 'cifar-100-binary',
  files: { train: ['train.bin'], test: ['test.bin'] },
  labelBytes: 2,
  labelIndex: 1,
  numClasses: 100,
  namesFile: 'fine_label_names.txt',
};

async function loadCifar(spec: CifarSpec, split: 'train' | 'test', dir: string): Promise<Uint8Dataset> {
  if (split !== 'train' && split !== 'test') throw new Error(`${spec.id}: split must be 'train' or 'test', got '${split}'`);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${spec.id}: --data-dir ${dir}: no such folder (expected the extracted ${spec.folder} folder)`);
  const missing = spec.files[split].filter((f) => !existsSync(join(dir, f)));
  if (missing.length > 0) throw new Error(`${spec.id}: --data-dir ${dir} lacks ${missing.join(', ')} (expected the extracted ${spec.folder} folder)`);
  const parts: CifarRecords[] = [];
  for (const file of spec.files[split]) {
    const path = join(dir, file);
    const bytes = await readOrExplain(path, `${spec.id} ${split} data`);
    const part = parseCifarRecords(bytes, spec.labelBytes, spec.labelIndex, path);
    const bad = part.labels.findIndex((l) => l >= spec.numClasses);
    if (bad >= 0) {
      throw new Error(`${path}: record ${bad} has label ${part.labels[bad]}, outside 0..${spec.numClasses - 1}`);
    }
    parts.push(part);
  }
  const total = parts.reduce((a, p) => a + p.labels.length, 0);
  const pixels = new Uint8Array(total * IMAGE_BYTES);
  const labels = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    pixels.set(p.pixels, at * IMAGE_BYTES);
    labels.set(p.labels, at);
    at += p.labels.length;
  }
  const classNames = await readClassNames(join(dir, spec.namesFile), spec.numClasses);
  return new Uint8Dataset({
    name: `${spec.id}/${split}`,
    imageShape: [SIDE, SIDE, 3],
    pixels,
    labels,
    numClasses: spec.numClasses,
    ...(classNames ? { classNames } : {}),
  });
}

/** CIFAR-10 from the `cifar-10-batches-bin` folder: train 50,000 or test 10,000 images, 32x32x3. */
export function loadCifar10(split: 'train' | 'test', dir: string): Promise<Uint8Dataset> {
  return loadCifar(CIFAR10, split, dir);
}

/** CIFAR-100 (fine labels) from the `cifar-100-binary` folder: train 50,000 or test 10,000, 32x32x3. */
export function loadCifar100(split: 'train' | 'test', dir: string): Promise<Uint8Dataset> {
  return loadCifar(CIFAR100, split, dir);
}
