// Writes the page's Fashion-MNIST sample, public/data/fashion-mnist-{train,test}-{images,labels}.idx
// (the first 6,000 training and 1,000 test images, uncompressed IDX), from the dataset's IDX files:
// $MASKEDSSL_DATA, ~/.cache/maskedssl/fashion-mnist, or Debian's dataset-fashion-mnist. Not committed;
// without the files the page offers its other datasets and says how to get this one.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

const out = new URL('../public/data/', import.meta.url);
const counts = { train: 6000, t10k: 1000 };
const dirs = [process.env.MASKEDSSL_DATA, join(homedir(), '.cache/maskedssl/fashion-mnist'), '/usr/share/datasets/fashion-mnist'].filter(Boolean);
const find = (stem) => {
  for (const dir of dirs) for (const name of [`${stem}`, `${stem}.gz`]) if (existsSync(join(dir, name))) return join(dir, name);
  return null;
};
const read = (path) => {
  const bytes = readFileSync(path);
  return bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
};
/** The first n records of an IDX file (header rewritten with n). */
const head = (bytes, n) => {
  const dims = bytes[3];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sizes = Array.from({ length: dims }, (_, i) => view.getUint32(4 + 4 * i));
  const per = sizes.slice(1).reduce((a, b) => a * b, 1);
  const header = Buffer.from(bytes.subarray(0, 4 + 4 * dims));
  header.writeUInt32BE(n, 4);
  return Buffer.concat([header, bytes.subarray(4 + 4 * dims, 4 + 4 * dims + n * per)]);
};

mkdirSync(out, { recursive: true });
for (const [split, n] of Object.entries(counts)) {
  for (const kind of ['images-idx3-ubyte', 'labels-idx1-ubyte']) {
    const target = new URL(`fashion-mnist-${split === 'train' ? 'train' : 'test'}-${kind.split('-')[0]}.idx`, out);
    if (existsSync(target)) continue;
    const source = find(`${split}-${kind}`);
    if (!source) {
      console.log(`[playground] Fashion-MNIST not found in ${dirs.join(', ')}: the page will offer the procedural set and your own files (apt-get install dataset-fashion-mnist for the sample)`);
      process.exit(0);
    }
    writeFileSync(target, head(read(source), n));
  }
}
console.log(`[playground] Fashion-MNIST sample (${counts.train} train, ${counts.t10k} test) in ${out.pathname}`);
