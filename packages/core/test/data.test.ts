// Data loading: IDX (gzip and plain, every corruption), the Fashion-MNIST finder (precedence, the
// not-found error), CIFAR binary batches (CHW -> HWC), image folders decoded with sharp, the procedural
// dataset, and the seeded, resumable Batcher. Plus the real Fashion-MNIST when it is installed.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  Batcher,
  FASHION_MNIST_CLASSES,
  Uint8Dataset,
  findFashionMnist,
  loadCifar10,
  loadCifar100,
  loadFashionMnist,
  loadIdxDataset,
  loadImageFolder,
  parseIdx,
  proceduralDataset,
  readIdxFile,
  sequentialBatches,
  type BatcherItem,
} from '../src/node.js';
import { Rng } from '../src/util/rng.js';

let tmp = '';
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'maskedssl-data-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A fresh empty folder under the test's temp dir. */
let dirCount = 0;
async function newDir(name: string): Promise<string> {
  const dir = join(tmp, `${name}-${dirCount++}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** An IDX file by hand: magic 00 00 type ndims, big-endian dims, data. */
function idx(dims: number[], data: ArrayLike<number>, type = 0x08, magic01 = [0, 0]): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out.set([magic01[0]!, magic01[1]!, type, dims.length]);
  const view = new DataView(out.buffer);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(Array.from(data), 4 + 4 * dims.length);
  return out;
}

// Three 2x2 images with distinct bytes, labels 2, 0, 1.
const IMG_BYTES = [0, 1, 2, 3, 10, 20, 30, 40, 255, 128, 64, 7];
const LABELS = [2, 0, 1];

describe('IDX', () => {
  it('round-trips plain and gzip files, telling them apart by content, not by name', async () => {
    const dir = await newDir('idx');
    // Deliberately misleading names: the gzip files lack .gz and the plain ones have it.
    const files = {
      plainImages: join(dir, 'images.gz'),
      plainLabels: join(dir, 'labels.gz'),
      gzImages: join(dir, 'images-idx3-ubyte'),
      gzLabels: join(dir, 'labels-idx1-ubyte'),
    };
    await writeFile(files.plainImages, idx([3, 2, 2], IMG_BYTES));
    await writeFile(files.plainLabels, idx([3], LABELS));
    await writeFile(files.gzImages, gzipSync(idx([3, 2, 2], IMG_BYTES)));
    await writeFile(files.gzLabels, gzipSync(idx([3], LABELS)));

    const raw = await readIdxFile(files.gzImages);
    expect(raw.dims).toEqual([3, 2, 2]);
    expect(Array.from(raw.data)).toEqual(IMG_BYTES);

    for (const [imagesPath, labelsPath] of [
      [files.plainImages, files.plainLabels],
      [files.gzImages, files.gzLabels],
    ] as const) {
      const ds = await loadIdxDataset({ imagesPath, labelsPath, name: 'tiny', classNames: ['a', 'b', 'c'] });
      expect(ds.length).toBe(3);
      expect(ds.imageShape).toEqual([2, 2, 1]);
      expect(ds.numClasses).toBe(3);
      expect(ds.classNames).toEqual(['a', 'b', 'c']);
      expect(ds.labelled).toBe(true);
      const b = ds.getBatch([2, 0]);
      expect(b.shape).toEqual([2, 2, 2, 1]);
      expect(Array.from(b.labels!)).toEqual([1, 2]);
      expect(Array.from(b.images)).toEqual([255, 128, 64, 7, 0, 1, 2, 3].map((v) => Math.fround(v / 255)));
      expect(() => ds.getBatch([3])).toThrow(/tiny: index 3 out of range 0..2/);
    }
    // Without class names, numClasses is max label + 1.
    const ds = await loadIdxDataset({ imagesPath: files.gzImages, labelsPath: files.gzLabels, name: 'tiny' });
    expect(ds.numClasses).toBe(3);
    expect(ds.classNames).toBeUndefined();
  });

  it('fails on each kind of corruption, naming the file and the fault', async () => {
    const dir = await newDir('idx-bad');
    const good = idx([3, 2, 2], IMG_BYTES);
    const cases: [string, Uint8Array, RegExp][] = [
      ['bad-magic', idx([3, 2, 2], IMG_BYTES, 0x08, [1, 0]), /not an IDX file \(magic bytes 01 00 08 03/],
      ['float-type', idx([3, 2, 2], IMG_BYTES, 0x0d), /unsupported IDX data type 0x0d \(float32\); only 0x08/],
      ['truncated', good.subarray(0, good.length - 1), /expected 12 bytes of image data \(3 x 2 x 2\), found 11 \(truncated\?\)/],
      ['trailing', new Uint8Array([...good, 9, 9]), /expected 12 bytes of image data \(3 x 2 x 2\), found 14 \(2 trailing bytes\)/],
      ['short-header', good.subarray(0, 9), /file ends inside the IDX header/],
      ['bad-gzip', gzipSync(good).subarray(0, 20), /corrupt gzip data/],
      ['garbage-gzip', new Uint8Array([0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), /corrupt gzip data/],
      ['truncated-gz', gzipSync(good.subarray(0, good.length - 3)), /found 9 \(truncated\?\)/],
    ];
    for (const [name, bytes, reason] of cases) {
      const path = join(dir, `${name}-idx3-ubyte.gz`);
      await writeFile(path, bytes);
      const err = await readIdxFile(path).then(
        () => null,
        (e: Error) => e.message,
      );
      expect(err, name).toContain(path);
      expect(err, name).toMatch(reason);
    }
    await expect(readIdxFile(join(dir, 'missing.gz'))).rejects.toThrow(/missing\.gz: cannot read/);
    expect(() => parseIdx(new Uint8Array([0, 0]), 'x.idx')).toThrow(/x\.idx: too short/);
  });

  it('checks images against labels', async () => {
    const dir = await newDir('idx-pair');
    const images = join(dir, 'images');
    await writeFile(images, idx([3, 2, 2], IMG_BYTES));
    const write = async (name: string, bytes: Uint8Array) => {
      await writeFile(join(dir, name), bytes);
      return join(dir, name);
    };
    const fewer = await write('fewer-labels', idx([2], [0, 1]));
    await expect(loadIdxDataset({ imagesPath: images, labelsPath: fewer, name: 't' })).rejects.toThrow(
      `${fewer}: 2 labels but ${images} has 3 images`,
    );
    const big = await write('big-label', idx([3], [0, 1, 3]));
    await expect(loadIdxDataset({ imagesPath: images, labelsPath: big, name: 't', classNames: ['a', 'b', 'c'] })).rejects.toThrow(
      `${big}: label 3 is outside 0..2 (3 classes)`,
    );
    const twoD = await write('2d-labels', idx([3, 1], [0, 1, 2]));
    await expect(loadIdxDataset({ imagesPath: images, labelsPath: twoD, name: 't' })).rejects.toThrow(
      `${twoD}: expected 1 dimension [n], found [3, 1]`,
    );
    await expect(loadIdxDataset({ imagesPath: fewer, labelsPath: fewer, name: 't' })).rejects.toThrow(
      `${fewer}: expected 3 dimensions [n, height, width], found [2]`,
    );
  });
});

describe('Fashion-MNIST finder', () => {
  const STEMS = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
  /** Tiny but valid files: 4 train and 2 test 3x3 images. */
  async function populate(dir: string, gz = true): Promise<string> {
    await mkdir(dir, { recursive: true });
    const contents = [
      idx([4, 3, 3], Array.from({ length: 36 }, (_, i) => i)),
      idx([4], [0, 9, 3, 3]),
      idx([2, 3, 3], Array.from({ length: 18 }, (_, i) => 200 + i)),
      idx([2], [5, 1]),
    ];
    for (const [i, stem] of STEMS.entries()) {
      await writeFile(join(dir, gz ? `${stem}.gz` : stem), gz ? gzipSync(contents[i]!) : contents[i]!);
    }
    return dir;
  }

  it('takes --data-dir (or its fashion-mnist/ subfolder) alone; without it searches $MASKEDSSL_DATA, the user cache, then the system folders', async () => {
    const root = await newDir('finder');
    const dataDir = await populate(join(root, 'explicit'));
    const envRoot = join(root, 'env');
    const envData = await populate(join(envRoot, 'fashion-mnist'), false);
    const xdg = join(root, 'xdg');
    const xdgData = await populate(join(xdg, 'maskedssl', 'fashion-mnist'));
    const home = join(root, 'home');
    const homeData = await populate(join(home, '.cache', 'maskedssl', 'fashion-mnist'));
    const system = await populate(join(root, 'system'));
    const env = { MASKEDSSL_DATA: envRoot, XDG_CACHE_HOME: xdg, HOME: home };
    const find = (o: Parameters<typeof findFashionMnist>[0]) => findFashionMnist({ systemDirs: [system], ...o }).dir;

    expect(find({ dataDir, env })).toBe(dataDir);
    // --data-dir may also be a root holding a fashion-mnist folder.
    expect(find({ dataDir: envRoot, env: {} })).toBe(envData);
    // A named folder that lacks the files is an error naming it, not a reason to look elsewhere.
    const empty = await newDir('empty');
    expect(() => find({ dataDir: empty, env })).toThrow(
      `Fashion-MNIST: --data-dir ${empty} does not hold the four IDX files (none of the files; ${join(empty, 'fashion-mnist')}: no such folder)`,
    );
    expect(() => find({ dataDir: join(root, 'nowhere'), env })).toThrow(`--data-dir ${join(root, 'nowhere')} does not hold the four IDX files (no such folder;`);
    expect(find({ env })).toBe(envData);
    // $MASKEDSSL_DATA may be the folder itself; plain (not gzipped) names are found too.
    const plain = findFashionMnist({ env: { MASKEDSSL_DATA: envData }, systemDirs: [] });
    expect(plain.dir).toBe(envData);
    expect(plain.trainImages).toBe(join(envData, 'train-images-idx3-ubyte'));
    expect(find({ env: { XDG_CACHE_HOME: xdg, HOME: home } })).toBe(xdgData);
    expect(find({ env: { HOME: home } })).toBe(homeData);
    expect(find({ env: { HOME: root } })).toBe(system);
    const files = findFashionMnist({ dataDir, env: {} });
    expect(files.testLabels).toBe(join(dataDir, 't10k-labels-idx1-ubyte.gz'));

    // loadFashionMnist reads what the finder found.
    const test = await loadFashionMnist('test', { dataDir, env: {} });
    expect(test.name).toBe('fashion-mnist/test');
    expect(test.length).toBe(2);
    expect(test.imageShape).toEqual([3, 3, 1]);
    expect(test.classNames).toEqual(FASHION_MNIST_CLASSES);
    expect(Array.from(test.getBatch([0, 1]).labels!)).toEqual([5, 1]);
    expect((await loadFashionMnist('train', { dataDir, env: {} })).length).toBe(4);
  });

  it('lists every place searched and how to get the data when nothing is found', async () => {
    const root = await newDir('finder-none');
    const partial = join(root, 'cache', 'maskedssl', 'fashion-mnist');
    await mkdir(partial, { recursive: true });
    await writeFile(join(partial, 'train-images-idx3-ubyte.gz'), '');
    const env = { MASKEDSSL_DATA: join(root, 'nowhere'), XDG_CACHE_HOME: join(root, 'cache'), HOME: root };
    const systemDir = join(root, 'usr-share-datasets-fashion-mnist');
    let message = '';
    try {
      findFashionMnist({ env, systemDirs: [systemDir] });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^Fashion-MNIST not found\. Looked for train-images-idx3-ubyte\[\.gz\], /);
    for (const line of [
      '  - --data-dir: not given',
      `  - ${join(root, 'nowhere')} ($MASKEDSSL_DATA): no such folder`,
      `  - ${partial} (user cache): missing train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]`,
      `  - ${systemDir} (system): no such folder`,
      'sudo apt-get install dataset-fashion-mnist',
      'zalandoresearch/fashion-mnist',
    ]) {
      expect(message).toContain(line);
    }
    // Unset sources are reported as such, in order.
    const bare = (() => {
      try {
        findFashionMnist({ env: { HOME: root }, systemDirs: [] });
        return '';
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(bare).toContain('  - --data-dir: not given\n  - $MASKEDSSL_DATA: not set\n');
    expect(bare).toContain(`${join(root, '.cache', 'maskedssl', 'fashion-mnist')} (user cache): no such folder`);
  });

  it('a named folder with corrupt or missing files fails naming them, though another copy exists', async () => {
    const root = await newDir('finder-corrupt');
    const good = await populate(join(root, 'env', 'fashion-mnist'));
    const env = { MASKEDSSL_DATA: good, HOME: root };
    // Two of the four files, both corrupt: the two missing ones are named.
    const two = join(root, 'two');
    await mkdir(two, { recursive: true });
    for (const stem of STEMS.slice(0, 2)) await writeFile(join(two, `${stem}.gz`), 'not gzip, not idx');
    await expect(loadFashionMnist('train', { dataDir: two, env, systemDirs: [good] })).rejects.toThrow(
      `Fashion-MNIST: --data-dir ${two} does not hold the four IDX files (missing t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz];`,
    );
    // All four present, one corrupt: reading it fails naming it.
    const corrupt = await populate(join(root, 'corrupt'));
    await writeFile(join(corrupt, 't10k-images-idx3-ubyte.gz'), Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3]));
    await expect(loadFashionMnist('test', { dataDir: corrupt, env, systemDirs: [good] })).rejects.toThrow(`${join(corrupt, 't10k-images-idx3-ubyte.gz')}: corrupt gzip data`);
    expect((await loadFashionMnist('test', { env, systemDirs: [] })).length).toBe(2);
  });
});

describe('CIFAR', () => {
  /** Hand value of record r, channel c, row y, column x. */
  const value = (r: number, c: number, y: number, x: number) => (r * 7 + c * 50 + y * 3 + x) % 256;
  function records(labels: number[][]): Uint8Array {
    const labelBytes = labels[0]!.length;
    const out = new Uint8Array(labels.length * (labelBytes + 3072));
    labels.forEach((l, r) => {
      const at = r * (labelBytes + 3072);
      out.set(l, at);
      for (let c = 0; c < 3; c++)
        for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) out[at + labelBytes + c * 1024 + y * 32 + x] = value(r, c, y, x);
    });
    return out;
  }

  it('reads CIFAR-10 records, CHW to HWC, with class names from batches.meta.txt', async () => {
    const dir = await newDir('cifar10');
    const bytes = records([[3], [0], [9]]);
    bytes[2 * 3073 + 1 + 2 * 1024 + 31 * 32 + 0] = 200; // record 2, blue, row 31, column 0
    await writeFile(join(dir, 'test_batch.bin'), bytes);
    const names = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
    await writeFile(join(dir, 'batches.meta.txt'), names.join('\n') + '\n\n');
    const ds = await loadCifar10('test', dir);
    expect(ds.name).toBe('cifar-10/test');
    expect(ds.length).toBe(3);
    expect(ds.imageShape).toEqual([32, 32, 3]);
    expect(ds.classNames).toEqual(names);
    expect(Array.from(ds.labels!)).toEqual([3, 0, 9]);
    expect(ds.pixels[(2 * 1024 + 31 * 32 + 0) * 3 + 2]).toBe(200);
    expect(ds.pixels[(1 * 1024 + 5 * 32 + 17) * 3 + 1]).toBe(value(1, 1, 5, 17));
    const b = ds.getBatch([1]);
    for (const [y, x, c] of [[0, 0, 0], [2, 5, 1], [31, 31, 2], [17, 4, 0]] as const) {
      expect(b.images[(y * 32 + x) * 3 + c]).toBe(Math.fround(value(1, c, y, x) / 255));
    }
    // Train needs all five batches; the error names the folder and what it lacks.
    await expect(loadCifar10('train', dir)).rejects.toThrow(`cifar-10: --data-dir ${dir} lacks data_batch_1.bin, data_batch_2.bin, data_batch_3.bin, data_batch_4.bin, data_batch_5.bin (expected the extracted cifar-10-batches-bin folder)`);
    await expect(loadCifar100('test', join(dir, 'nowhere'))).rejects.toThrow(`cifar-100: --data-dir ${join(dir, 'nowhere')}: no such folder`);
  });

  it('reads CIFAR-100 fine labels; no names file means no class names', async () => {
    const dir = await newDir('cifar100');
    await writeFile(join(dir, 'train.bin'), records([[1, 42], [19, 99]]));
    const ds = await loadCifar100('train', dir);
    expect(ds.numClasses).toBe(100);
    expect(ds.classNames).toBeUndefined();
    expect(Array.from(ds.labels!)).toEqual([42, 99]);
    expect(ds.pixels[(3 * 32 + 4) * 3 + 2 + 3072]).toBe(value(1, 2, 3, 4));
  });

  it('rejects a bad length or an out-of-range label, naming the file', async () => {
    const dir = await newDir('cifar-bad');
    const path = join(dir, 'test_batch.bin');
    await writeFile(path, records([[1], [2], [3]]).subarray(0, 3 * 3073 - 1));
    await expect(loadCifar10('test', dir)).rejects.toThrow(
      `${path}: length 9218 is not a positive multiple of the 3073-byte record size`,
    );
    await writeFile(path, records([[1], [10]]));
    await expect(loadCifar10('test', dir)).rejects.toThrow(`${path}: record 1 has label 10, outside 0..9`);
    await writeFile(path, records([[1]]));
    await writeFile(join(dir, 'batches.meta.txt'), 'cat\ndog\n');
    await expect(loadCifar10('test', dir)).rejects.toThrow(/batches\.meta\.txt: expected 10 class names, found 2/);
  });
});

describe('image folder', () => {
  const solid = (w: number, h: number, channels: 1 | 3 | 4, bg: { r: number; g: number; b: number; alpha?: number }) =>
    sharp({ create: { width: w, height: h, channels: channels === 1 ? 3 : channels, background: bg } });

  async function makeFolder(): Promise<string> {
    const root = await newDir('images');
    await mkdir(join(root, 'cat'));
    await mkdir(join(root, 'dog'));
    await solid(8, 8, 3, { r: 255, g: 0, b: 0 }).png().toFile(join(root, 'cat', 'a-red.png'));
    await solid(6, 9, 4, { r: 0, g: 255, b: 0, alpha: 0.5 }).png().toFile(join(root, 'cat', 'b-green-alpha.PNG'));
    await solid(10, 6, 3, { r: 0, g: 0, b: 255 }).jpeg({ quality: 95 }).toFile(join(root, 'dog', 'blue.jpg'));
    await solid(5, 5, 3, { r: 128, g: 128, b: 128 }).greyscale().png().toFile(join(root, 'dog', 'grey.jpeg.png'));
    await writeFile(join(root, 'dog', 'notes.txt'), 'not an image');
    return root;
  }

  it('decodes, resizes and labels every image, in sorted order, as 3 or 1 channels', async () => {
    const root = await makeFolder();
    const rgb = await loadImageFolder({ root, size: 4, channels: 3 });
    expect(rgb.length).toBe(4);
    expect(rgb.imageShape).toEqual([4, 4, 3]);
    expect(rgb.classNames).toEqual(['cat', 'dog']);
    expect(Array.from(rgb.labels!)).toEqual([0, 0, 1, 1]);
    const pixel = (ds: Uint8Dataset, i: number) => Array.from(ds.pixels.subarray(i * 48 + 15, i * 48 + 18));
    expect(pixel(rgb, 0)).toEqual([255, 0, 0]);
    expect(pixel(rgb, 1)).toEqual([0, 255, 0]); // alpha dropped
    const blue = pixel(rgb, 2);
    expect(Math.abs(blue[0]! - 0) + Math.abs(blue[1]! - 0) + Math.abs(blue[2]! - 255)).toBeLessThan(12); // JPEG
    expect(pixel(rgb, 3)).toEqual([128, 128, 128]); // greyscale source expanded to 3 channels

    const grey = await loadImageFolder({ root, size: 3, channels: 1, name: 'pets' });
    expect(grey.name).toBe('pets');
    expect(grey.imageShape).toEqual([3, 3, 1]);
    expect(grey.pixels.length).toBe(4 * 9);
    expect(grey.pixels[3 * 9 + 4]).toBe(128);
    // Pure red's luminance is 0.2126 in linear light, 127 once sRGB-encoded.
    expect(Math.abs(grey.pixels[0]! - 127)).toBeLessThanOrEqual(2);
  });

  it('fails naming an undecodable image, an empty class folder, or a folder without classes', async () => {
    const root = await makeFolder();
    const broken = join(root, 'dog', 'broken.png');
    await writeFile(broken, 'definitely not a PNG');
    await expect(loadImageFolder({ root, size: 4, channels: 3 })).rejects.toThrow(`${broken}: cannot decode image`);

    const root2 = await makeFolder();
    await mkdir(join(root2, 'empty'));
    await expect(loadImageFolder({ root: root2, size: 4, channels: 3 })).rejects.toThrow(
      `${join(root2, 'empty')}: class folder 'empty' has no .png, .jpg or .jpeg images`,
    );
    const bare = await newDir('no-classes');
    await writeFile(join(bare, 'x.png'), '');
    await expect(loadImageFolder({ root: bare, size: 4, channels: 3 })).rejects.toThrow(`${bare}: no class folders`);
    await expect(loadImageFolder({ root: join(bare, 'missing'), size: 4, channels: 3 })).rejects.toThrow(/missing: cannot read the image folder/);
  });
});

describe('procedural dataset', () => {
  it('is deterministic, seeded, balanced and shaped as asked', () => {
    const a = proceduralDataset({ count: 100, seed: 7 });
    const b = proceduralDataset({ count: 100, seed: 7 });
    const c = proceduralDataset({ count: 100, seed: 8 });
    expect(a.imageShape).toEqual([16, 16, 1]);
    expect(a.numClasses).toBe(10);
    expect(a.classNames).toHaveLength(10);
    expect(a.pixels).toEqual(b.pixels);
    expect(a.pixels).not.toEqual(c.pixels);
    // Image i depends only on the seed and i.
    expect(proceduralDataset({ count: 30, seed: 7 }).pixels).toEqual(a.pixels.subarray(0, 30 * 256));
    const counts = new Array<number>(10).fill(0);
    for (const l of a.labels!) counts[l]!++;
    expect(counts).toEqual(new Array(10).fill(10));
    // Not blank, not saturated.
    const mean = a.pixels.reduce((s, v) => s + v, 0) / a.pixels.length / 255;
    expect(mean).toBeGreaterThan(0.1);
    expect(mean).toBeLessThan(0.6);

    const rgb = proceduralDataset({ count: 12, seed: 1, numClasses: 4, size: 20, channels: 3 });
    expect(rgb.imageShape).toEqual([20, 20, 3]);
    expect(rgb.getBatch([0, 5]).shape).toEqual([2, 20, 20, 3]);
    expect(Array.from(rgb.labels!)).toEqual([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]);
  });

  it('has class signal a raw-pixel 1-NN finds, but far from all of it', () => {
    const train = proceduralDataset({ count: 1000, seed: 1 });
    const test = proceduralDataset({ count: 200, seed: 2 });
    const d = 256;
    let correct = 0;
    for (let i = 0; i < test.length; i++) {
      let best = Infinity;
      let label = -1;
      for (let j = 0; j < train.length; j++) {
        let dist = 0;
        for (let k = 0; k < d; k++) {
          const diff = test.pixels[i * d + k]! - train.pixels[j * d + k]!;
          dist += diff * diff;
        }
        if (dist < best) [best, label] = [dist, train.labels![j]!];
      }
      if (label === test.labels![i]) correct++;
    }
    const acc = correct / test.length;
    expect(acc).toBeGreaterThan(0.35); // chance is 0.1
    expect(acc).toBeLessThan(0.85);
  });
});

describe('Batcher', () => {
  /** n 1x1 images whose pixel is the image's index, so a batch shows which images it holds. */
  const indexed = (n: number) =>
    new Uint8Dataset({ name: 'indexed', imageShape: [1, 1, 1], pixels: Uint8Array.from({ length: n }, (_, i) => i), labels: Uint8Array.from({ length: n }, (_, i) => i % 3), numClasses: 3 });
  const tick = () => new Promise<void>((r) => setImmediate(r));
  const summary = (it: BatcherItem) => ({ i: Array.from(it.indices), e: it.epoch, p: it.position });
  function consistent(item: BatcherItem): void {
    expect(Array.from(item.batch.images, (v) => Math.round(v * 255))).toEqual(Array.from(item.indices));
    expect(Array.from(item.batch.labels!)).toEqual(Array.from(item.indices, (i) => i % 3));
  }

  it('visits every index once per epoch, in a new order each epoch', async () => {
    const batcher = new Batcher(indexed(10), { batchSize: 3, rng: new Rng(1), dropLast: false });
    expect(batcher.stepsPerEpoch).toBe(4);
    const epochs: number[][] = [];
    for (let step = 0; step < 12; step++) {
      const item = batcher.next();
      consistent(item);
      expect(item.epoch).toBe(Math.floor(step / 4));
      expect(item.position).toBe((step % 4) * 3);
      expect(item.indices.length).toBe(step % 4 === 3 ? 1 : 3);
      (epochs[item.epoch] ??= []).push(...item.indices);
      if (step % 2) await tick(); // let some prefetches run, not others
    }
    for (const order of epochs) expect([...order].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(epochs[0]).not.toEqual(epochs[1]);
    expect(epochs[1]).not.toEqual(epochs[2]);
  });

  it('drops the last partial batch when asked', () => {
    const batcher = new Batcher(indexed(10), { batchSize: 4, rng: new Rng(2) });
    expect(batcher.stepsPerEpoch).toBe(2);
    const items = Array.from({ length: 6 }, () => batcher.next());
    expect(items.map((it) => [it.epoch, it.position, it.indices.length])).toEqual([
      [0, 0, 4], [0, 4, 4], [1, 0, 4], [1, 4, 4], [2, 0, 4], [2, 4, 4],
    ]);
    for (const e of [0, 1, 2]) expect(new Set([...items[2 * e]!.indices, ...items[2 * e + 1]!.indices]).size).toBe(8);
    expect(() => new Batcher(indexed(3), { batchSize: 4, rng: new Rng(0) })).toThrow(/batchSize 4 exceeds the 3 images/);
  });

  it('is deterministic, with or without prefetch, and its state round-trips through JSON', async () => {
    const run = async (prefetch: boolean, steps: number) => {
      const ds = indexed(11);
      const getBatch = vi.spyOn(ds, 'getBatch');
      const b = new Batcher(ds, { batchSize: 4, rng: new Rng(5), dropLast: false, prefetch });
      const out = [];
      for (let s = 0; s < steps; s++) {
        const item = b.next();
        consistent(item);
        out.push(summary(item));
        await tick();
      }
      // With prefetch, each next() took the batch assembled during the tick before it (and one more waits).
      expect(getBatch).toHaveBeenCalledTimes(prefetch ? steps + 1 : steps);
      return out;
    };
    const reference = await run(true, 14);
    expect(await run(false, 14)).toEqual(reference);
    expect(await run(true, 14)).toEqual(reference);

    for (const cut of [0, 2, 3, 5]) {
      const original = new Batcher(indexed(11), { batchSize: 4, rng: new Rng(5), dropLast: false });
      for (let s = 0; s < cut; s++) original.next();
      await tick(); // a prefetch is pending or done: it must not leak into the state
      const saved = JSON.stringify(original.getState());
      const resumed = new Batcher(indexed(11), { batchSize: 4, rng: new Rng(999), dropLast: false });
      resumed.next();
      resumed.setState(JSON.parse(saved));
      for (let s = cut; s < 14; s++) {
        const item = resumed.next();
        consistent(item);
        expect(summary(item)).toEqual(reference[s]);
        expect(summary(original.next())).toEqual(reference[s]);
      }
    }
    const other = new Batcher(indexed(11), { batchSize: 3, rng: new Rng(5), dropLast: false });
    expect(() => other.setState(new Batcher(indexed(11), { batchSize: 4, rng: new Rng(5) }).getState())).toThrow(
      /saved batchSize 4 differs from this batcher's 3/,
    );
  });

  it('iterates sequentially for evaluation', () => {
    const batches = [...sequentialBatches(indexed(7), 3)];
    expect(batches.map((b) => [b.start, Array.from(b.indices)])).toEqual([
      [0, [0, 1, 2]],
      [3, [3, 4, 5]],
      [6, [6]],
    ]);
    for (const b of batches) expect(Array.from(b.batch.images, (v) => Math.round(v * 255))).toEqual(Array.from(b.indices));
  });
});

describe('real Fashion-MNIST', () => {
  const dir = '/usr/share/datasets/fashion-mnist';
  it('has 60000/10000 28x28x1 images, 6000/1000 per class, train pixel mean 72.94/255', async (ctx) => {
    ctx.skip(!existsSync(dir), `${dir} is absent (Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist)`);
    const opts = { dataDir: dir, env: {}, systemDirs: [] };
    for (const [split, n] of [['train', 60000], ['test', 10000]] as const) {
      const ds = await loadFashionMnist(split, opts);
      expect(ds.length).toBe(n);
      expect(ds.imageShape).toEqual([28, 28, 1]);
      expect(ds.numClasses).toBe(10);
      const counts = new Array<number>(10).fill(0);
      for (const l of ds.labels!) counts[l]!++;
      expect(counts).toEqual(new Array(10).fill(n / 10));
      if (split === 'train') {
        let sum = 0;
        for (const v of ds.pixels) sum += v;
        expect(sum / ds.pixels.length / 255).toBeCloseTo(72.94 / 255, 3);
        const b = ds.getBatch([0, 59999]);
        expect(b.shape).toEqual([2, 28, 28, 1]);
        expect(Math.max(...b.images)).toBeLessThanOrEqual(1);
      }
    }
  });
});
