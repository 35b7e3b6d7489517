// IDX files (MNIST, Fashion-MNIST) from disk, gzip-compressed or plain (told apart by magic bytes);
// decoding is data/idx.ts's. Errors name the file.
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { idxDataset, isGzip, parseIdx, type IdxArray } from '../data/idx.js';
import type { Uint8Dataset } from '../data/uint8-dataset.js';

const gunzipAsync = promisify(gunzip);

/** Reads an IDX file, gunzipping it first when it starts with the gzip magic bytes (whatever its name). */
export async function readIdxFile(path: string): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as Error).message})`);
  }
  if (isGzip(bytes)) {
    try {
      bytes = await gunzipAsync(bytes);
    } catch (e) {
      throw new Error(`${path}: corrupt gzip data (${(e as Error).message})`);
    }
  }
  return parseIdx(bytes, path);
}


export interface IdxFilesOptions {
  imagesPath: string;
  labelsPath: string;
  name: string;
  /** When given, also fixes numClasses (and every label must be below it); else numClasses = max label + 1. */
  classNames?: readonly string[];
}

/** An images file [n, H, W] and a labels file [n] as a single-channel labelled dataset. */
export async function loadIdxDataset(opts: IdxFilesOptions): Promise<Uint8Dataset> {
  const [images, labels] = await Promise.all([readIdxFile(opts.imagesPath), readIdxFile(opts.labelsPath)]);
  return idxDataset(images, labels, {
    name: opts.name,
    imagesSource: opts.imagesPath,
    labelsSource: opts.labelsPath,
    ...(opts.classNames ? { classNames: opts.classNames } : {}),
  });
}
