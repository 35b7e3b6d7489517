// Finding and loading Fashion-MNIST (and MNIST, which ships as the same four IDX file names). An
// explicit `dataDir` (the CLI's --data-dir) is authoritative: the files are taken from it or its
// `<dataset>` subfolder, or the error names it and what it lacks; nothing else is searched. Without
// one, the places searched, in order, each as the folder itself or its `<dataset>` subfolder where noted:
//   1. $MASKEDSSL_DATA (itself or $MASKEDSSL_DATA/<dataset>)
//   2. the user cache, $XDG_CACHE_HOME/maskedssl/<dataset> or ~/.cache/maskedssl/<dataset>
//   3. system folders: /usr/share/datasets/fashion-mnist (Debian's `dataset-fashion-mnist`)
// A folder qualifies when it has all four files, each gzip-compressed (`.gz`) or plain.
// When none does, the error lists every place searched, what was there, and how to get the data.
import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { FASHION_MNIST_CLASSES, MNIST_CLASSES } from '../data/class-names.js';
import type { Uint8Dataset } from '../data/uint8-dataset.js';
import { loadIdxDataset } from './idx-files.js';

const FILE_STEMS = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;
type FileKey = keyof typeof FILE_STEMS;

export type IdxFiles = { dir: string } & Record<FileKey, string>;

export interface FindOptions {
  /** The explicit data folder (--data-dir): the only place looked in when given. */
  dataDir?: string;
  /** Environment to read MASKEDSSL_DATA, XDG_CACHE_HOME and HOME from; default process.env. */
  env?: Record<string, string | undefined>;
  /** System folders searched last; default the dataset's Debian folder(s). */
  systemDirs?: readonly string[];
}

interface IdxDatasetSpec {
  /** Folder name, e.g. `fashion-mnist`. */
  id: string;
  title: string;
  classNames: readonly string[];
  systemDirs: readonly string[];
  /** Lines of "how to get it" advice; the list of folders to put the files in is appended. */
  howToGet: readonly string[];
}

const FASHION_MNIST: IdxDatasetSpec = {
  id: 'fashion-mnist',
  title: 'Fashion-MNIST',
  classNames: FASHION_MNIST_CLASSES,
  systemDirs: ['/usr/share/datasets/fashion-mnist'],
  howToGet: [
    'on Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist  (installs into /usr/share/datasets/fashion-mnist)',
    'or download the four .gz files from the zalandoresearch/fashion-mnist repository on GitHub (folder data/fashion)',
  ],
};

const MNIST: IdxDatasetSpec = {
  id: 'mnist',
  title: 'MNIST',
  classNames: MNIST_CLASSES,
  systemDirs: [],
  howToGet: ['download the four .gz files of the MNIST database of handwritten digits'],
};

/** The candidate folders in search order when no folder is given, each with where it came from (dir null: that source is unset). */
function candidates(spec: IdxDatasetSpec, opts: FindOptions): { dir: string | null; source: string }[] {
  const env = opts.env ?? process.env;
  const out: { dir: string | null; source: string }[] = [];
  const root = env.MASKEDSSL_DATA;
  const source = '$MASKEDSSL_DATA';
  if (root) out.push({ dir: root, source }, { dir: join(root, spec.id), source });
  else out.push({ dir: null, source });
  out.push({ dir: userCacheDir(spec.id, env), source: 'user cache' });
  for (const dir of opts.systemDirs ?? spec.systemDirs) out.push({ dir, source: 'system' });
  return out;
}

function userCacheDir(id: string, env: Record<string, string | undefined>): string {
  const cache = env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache');
  return join(cache, 'maskedssl', id);
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The four files in `dir` (`.gz` preferred over plain), or the stems that are missing. */
function filesIn(dir: string): { files: IdxFiles } | { missing: string[] } {
  const files: Partial<IdxFiles> = { dir };
  const missing: string[] = [];
  for (const [key, stem] of Object.entries(FILE_STEMS) as [FileKey, string][]) {
    const found = [`${stem}.gz`, stem].map((n) => join(dir, n)).find(isFile);
    if (found) files[key] = found;
    else missing.push(`${stem}[.gz]`);
  }
  return missing.length ? { missing } : { files: files as IdxFiles };
}

/** What `dir` lacks, in words ('no such folder', 'none of the files', 'missing ...'), or its files. */
function inspect(dir: string): { files: IdxFiles } | { what: string } {
  if (!existsSync(dir)) return { what: 'no such folder' };
  const r = filesIn(dir);
  if ('files' in r) return r;
  return { what: r.missing.length === 4 ? 'none of the files' : `missing ${r.missing.join(', ')}` };
}

/** The files of the folder the user named (itself or its `<dataset>` subfolder), or a one-line error naming it. */
function fromDataDir(spec: IdxDatasetSpec, dataDir: string): IdxFiles {
  const sub = join(dataDir, spec.id);
  const here = inspect(dataDir);
  if ('files' in here) return here.files;
  const below = inspect(sub);
  if ('files' in below) return below.files;
  throw new Error(
    `${spec.title}: --data-dir ${dataDir} does not hold the four IDX files (${here.what}; ${sub}: ${below.what}); ` +
      `give the folder with ${Object.values(FILE_STEMS).map((s) => `${s}[.gz]`).join(', ')}, or leave --data-dir out to search the usual places`,
  );
}

function findIdx(spec: IdxDatasetSpec, opts: FindOptions): IdxFiles {
  if (opts.dataDir) return fromDataDir(spec, opts.dataDir);
  const searched: string[] = [`  - --data-dir: not given`];
  for (const { dir, source } of candidates(spec, opts)) {
    if (dir === null) {
      searched.push(`  - ${source}: not set`);
      continue;
    }
    const r = inspect(dir);
    if ('files' in r) return r.files;
    searched.push(`  - ${dir} (${source}): ${r.what}`);
  }
  const env = opts.env ?? process.env;
  const stems = Object.values(FILE_STEMS).map((s) => `${s}[.gz]`);
  throw new Error(
    [
      `${spec.title} not found. Looked for ${stems.join(', ')} in:`,
      ...searched,
      `To get it:`,
      ...spec.howToGet.map((l) => `  - ${l}`),
      `    into ${userCacheDir(spec.id, env)}, or into a folder given with --data-dir or $MASKEDSSL_DATA` +
        ` (the folder itself or its ${spec.id}/ subfolder).`,
    ].join('\n'),
  );
}

async function loadIdxSplit(spec: IdxDatasetSpec, split: 'train' | 'test', opts: FindOptions): Promise<Uint8Dataset> {
  if (split !== 'train' && split !== 'test') throw new Error(`${spec.title}: split must be 'train' or 'test', got '${split}'`);
  const files = findIdx(spec, opts);
  // A corrupt file is an error naming it (readIdxFile), never a reason to look elsewhere.
  return loadIdxDataset({
    imagesPath: split === 'train' ? files.trainImages : files.testImages,
    labelsPath: split === 'train' ? files.trainLabels : files.testLabels,
    name: `${spec.id}/${split}`,
    classNames: spec.classNames,
  });
}

/** The Fashion-MNIST files (see the file header for where it looks); throws a how-to-get-it error when absent. */
export function findFashionMnist(opts: FindOptions = {}): IdxFiles {
  return findIdx(FASHION_MNIST, opts);
}

/** Fashion-MNIST's train (60,000) or test (10,000) split: 28x28x1, 10 classes. */
export function loadFashionMnist(split: 'train' | 'test', opts: FindOptions = {}): Promise<Uint8Dataset> {
  return loadIdxSplit(FASHION_MNIST, split, opts);
}

/** The MNIST files: as findFashionMnist, in `mnist` folders, with no system folder by default. */
export function findMnist(opts: FindOptions = {}): IdxFiles {
  return findIdx(MNIST, opts);
}

/** MNIST's train (60,000) or test (10,000) split: 28x28x1, 10 classes. */
export function loadMnist(split: 'train' | 'test', opts: FindOptions = {}): Promise<Uint8Dataset> {
  return loadIdxSplit(MNIST, split, opts);
}
