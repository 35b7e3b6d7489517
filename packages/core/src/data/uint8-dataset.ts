// Uint8Dataset: the in-memory Dataset every loader in src/data returns: HWC uint8 pixels for all images
// in one array, converted to float32 [0, 1] only for the images a batch asks for.
import type { Batch, Dataset } from './dataset.js';

export interface Uint8DatasetInit {
  name: string;
  /** [H, W, C]. */
  imageShape: [number, number, number];
  /** length * H * W * C bytes, each image HWC row-major, images back to back. */
  pixels: Uint8Array;
  /** One class index per image, or null when unlabelled. */
  labels: Uint8Array | Int32Array | null;
  numClasses: number;
  classNames?: readonly string[];
}

/** Float32 value of each byte value, k / 255 (so batches are exactly what a division would give). */
const BYTE_TO_UNIT = Float32Array.from({ length: 256 }, (_, k) => k / 255);

/** An in-memory dataset of uint8 images (see the file header). Validates its contents on construction. */
export class Uint8Dataset implements Dataset {
  readonly name: string;
  readonly length: number;
  readonly imageShape: [number, number, number];
  readonly numClasses: number;
  readonly classNames?: readonly string[];
  readonly labelled: boolean;
  readonly pixels: Uint8Array;
  readonly labels: Int32Array | null;
  private readonly imageSize: number;

  constructor(init: Uint8DatasetInit) {
    const [h, w, c] = init.imageShape;
    this.imageSize = h * w * c;
    if (!(this.imageSize > 0) || init.imageShape.some((d) => !Number.isInteger(d))) {
      throw new Error(`${init.name}: bad image shape [${init.imageShape.join(', ')}]`);
    }
    if (init.pixels.length % this.imageSize !== 0) {
      throw new Error(`${init.name}: ${init.pixels.length} pixel bytes is not a whole number of ${h}x${w}x${c} images`);
    }
    this.name = init.name;
    this.length = init.pixels.length / this.imageSize;
    this.imageShape = [h, w, c];
    this.pixels = init.pixels;
    this.numClasses = init.numClasses;
    if (init.classNames) {
      if (init.classNames.length !== init.numClasses) {
        throw new Error(`${init.name}: ${init.classNames.length} class names for ${init.numClasses} classes`);
      }
      this.classNames = [...init.classNames];
    }
    this.labelled = init.labels !== null;
    this.labels = init.labels === null ? null : Int32Array.from(init.labels);
    if (this.labels) {
      if (this.labels.length !== this.length) {
        throw new Error(`${init.name}: ${this.length} images but ${this.labels.length} labels`);
      }
      for (let i = 0; i < this.labels.length; i++) {
        const l = this.labels[i]!;
        if (l < 0 || l >= this.numClasses) {
          throw new Error(`${init.name}: label ${l} of image ${i} is outside 0..${this.numClasses - 1}`);
        }
      }
    }
  }

  getBatch(indices: ArrayLike<number>): Batch {
    const n = indices.length;
    const size = this.imageSize;
    const images = new Float32Array(n * size);
    const labels = this.labels ? new Int32Array(n) : null;
    for (let b = 0; b < n; b++) {
      const i = indices[b]!;
      if (!Number.isInteger(i) || i < 0 || i >= this.length) {
        throw new Error(`${this.name}: index ${i} out of range 0..${this.length - 1}`);
      }
      const src = i * size;
      const dst = b * size;
      for (let k = 0; k < size; k++) images[dst + k] = BYTE_TO_UNIT[this.pixels[src + k]!]!;
      if (labels) labels[b] = this.labels![i]!;
    }
    const [h, w, c] = this.imageShape;
    return { images, labels, shape: [n, h, w, c] };
  }
}
