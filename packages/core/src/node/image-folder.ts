// A labelled dataset from a folder of class folders, `root/<class>/*.png|jpg|jpeg` (extensions in any
// case; other files, and anything in deeper folders, are ignored). Classes are the subfolder names in
// sorted (code-point) order, images within a class sorted by name. Every image is decoded once, at load,
// with sharp: EXIF orientation applied, alpha dropped, scaled to cover size x size and centre-cropped,
// converted to 1 (greyscale) or 3 (sRGB) channels, and kept as uint8.
import { readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import sharp from 'sharp';
import { Uint8Dataset } from '../data/uint8-dataset.js';

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);
/** Images decoded at once (sharp decodes on libuv's thread pool). */
const CONCURRENCY = 4;

export interface ImageFolderOptions {
  root: string;
  /** Output side length in pixels (images are square). */
  size: number;
  channels: 1 | 3;
  /** Default `image-folder:<root>`. */
  name?: string;
}

async function listDir(path: string, what: string) {
  try {
    return await readdir(path, { withFileTypes: true });
  } catch (e) {
    throw new Error(`${path}: cannot read ${what} (${(e as Error).message})`);
  }
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Decodes one image to size x size x channels uint8; errors name the file. */
async function decode(path: string, size: number, channels: 1 | 3): Promise<Buffer> {
  try {
    const { data, info } = await sharp(path)
      .autoOrient()
      .removeAlpha()
      .resize(size, size, { fit: 'cover', position: 'centre' })
      .toColourspace(channels === 1 ? 'b-w' : 'srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.width !== size || info.height !== size || info.channels !== channels) {
      throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}, expected ${size}x${size}x${channels}`);
    }
    return data;
  } catch (e) {
    throw new Error(`${path}: cannot decode image (${(e as Error).message})`);
  }
}

/** Loads and decodes the whole folder (see the file header). */
export async function loadImageFolder(opts: ImageFolderOptions): Promise<Uint8Dataset> {
  const { root, size, channels } = opts;
  if (!Number.isInteger(size) || size < 1) throw new Error(`loadImageFolder: size must be a positive integer, got ${size}`);
  if (channels !== 1 && channels !== 3) throw new Error(`loadImageFolder: channels must be 1 or 3, got ${channels}`);
  const classNames = (await listDir(root, 'the image folder'))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort(byName);
  if (classNames.length === 0) throw new Error(`${root}: no class folders (expected ${root}/<class>/*.png|jpg|jpeg)`);

  const files: { path: string; label: number }[] = [];
  for (const [label, cls] of classNames.entries()) {
    const dir = join(root, cls);
    const images = (await listDir(dir, 'the class folder'))
      .filter((e) => e.isFile() && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase()))
      .map((e) => e.name)
      .sort(byName);
    if (images.length === 0) throw new Error(`${dir}: class folder '${cls}' has no .png, .jpg or .jpeg images`);
    for (const name of images) files.push({ path: join(dir, name), label });
  }

  const imageBytes = size * size * channels;
  const pixels = new Uint8Array(files.length * imageBytes);
  const labels = new Int32Array(files.length);
  let nextFile = 0;
  const worker = async () => {
    while (nextFile < files.length) {
      const i = nextFile++;
      const f = files[i]!;
      try {
        pixels.set(await decode(f.path, size, channels), i * imageBytes);
      } catch (e) {
        nextFile = files.length; // stop the other workers
        throw e;
      }
      labels[i] = f.label;
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, files.length) }, worker));

  return new Uint8Dataset({
    name: opts.name ?? `image-folder:${root}`,
    imageShape: [size, size, channels],
    pixels,
    labels,
    numClasses: classNames.length,
    classNames,
  });
}
