// Wall-clock of the k-NN evaluation over all of Fashion-MNIST (70k images) with a ViT backbone
// (vit-tiny/4, the 2.7M-parameter ViT of issue #10, unless --backbone names another preset):
// feature extraction of the 60k train and 10k test images (extractFeatures + vitFeatureFn, as the
// evaluation harness and `maskedssl eval` run them), then weighted k-NN voting (k = 20 and 10). The
// weights are a random initialisation: the time does not depend on them.
//   npm run bench:knn -w @maskedssl/core [-- --batch 256 --backbone vit-mini/4]
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/init-backend.js';
import { loadFashionMnist } from '../src/node/fashion-mnist.js';
import { extractFeatures, requireLabels, vitFeatureFn } from '../src/eval/extract-features.js';
import { knnClassify } from '../src/eval/knn.js';
import { Rng } from '../src/util/rng.js';
import { vitPresetNames } from '../src/vit/backbone-choice.js';
import { vitConfig, type VitPresetName } from '../src/vit/config.js';
import { createVit } from '../src/vit/vit.js';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const batchAt = argv.indexOf('--batch');
  const batchSize = batchAt >= 0 ? Number(argv[batchAt + 1]) : 256;
  const backboneAt = argv.indexOf('--backbone');
  const backbone = (backboneAt >= 0 ? argv[backboneAt + 1] : 'vit-tiny/4') as VitPresetName;
  if (!(vitPresetNames as readonly string[]).includes(backbone)) throw new Error(`--backbone: '${backbone}' is not a ViT preset (${vitPresetNames.join(', ')})`);
  const info = await initBackend({ log: null });
  const [train, test] = await Promise.all([loadFashionMnist('train'), loadFashionMnist('test')]);
  const config = vitConfig(backbone);
  const vit = createVit(config, new Rng(0));
  const fn = vitFeatureFn(config, vit.params);
  // Warm-up (first-call kernel set-up), not timed.
  await extractFeatures(test, fn, { batchSize, indices: Int32Array.from({ length: batchSize }, (_, i) => i) });

  const t0 = performance.now();
  const trainFeatures = requireLabels(await extractFeatures(train, fn, { batchSize }));
  const t1 = performance.now();
  const testFeatures = requireLabels(await extractFeatures(test, fn, { batchSize }));
  const t2 = performance.now();
  const knn = await knnClassify(trainFeatures, testFeatures, { ks: [20, 10] });
  const t3 = performance.now();
  tf.dispose(Object.values(vit.params));

  const s = (ms: number) => (ms / 1000).toFixed(1);
  const images = train.length + test.length;
  console.log(`backend ${info.name}; ${backbone} (random init), batch ${batchSize}; ${images} images`);
  console.log(
    `extraction ${s(t2 - t0)} s (${((images * 1000) / (t2 - t0)).toFixed(0)} img/s: train ${s(t1 - t0)} s, test ${s(t2 - t1)} s), ` +
      `voting ${s(t3 - t2)} s, total ${s(t3 - t0)} s; k-NN top-1 ${knn.perK.map((r) => `k=${r.k} ${(100 * r.accuracy).toFixed(2)}%`).join(', ')}`,
  );
}

main().catch((e: Error) => {
  console.error(e.stack ?? e.message);
  process.exit(1);
});
