// `maskedssl embed`: frozen features of one split for downstream use, as safetensors
// (`features` [N, D] F32, `indices` [N] I32 dataset indices, `labels` [N] I32 when labelled).
import { extractFeatures, writeSafetensorsFile, type SafetensorsTensor } from '@maskedssl/core/node';
import { parseFlags, positiveInt, type Options } from '../args.js';
import { DatasetConfig, datasetNames, openDataset } from '../datasets.js';
import { UsageError } from '../errors.js';
import { checkpointFeatures } from '../features.js';
import { importHelp, importMethods } from '../methods.js';
import { backendHelp, setupBackend } from '../setup-backend.js';

export const embedHelp = `maskedssl embed --checkpoint <dir> --out <file.safetensors> [options]
  --checkpoint <dir>     a run folder (its newest checkpoint) or one checkpoint folder
  --out <file>           the .safetensors file: features [N, D], indices [N], labels [N]
  --dataset <name>       ${datasetNames.join(', ')} (default fashion-mnist)
  --data-dir <dir>       where the dataset files are
  --split <train|test>   default test
  --limit <n>            the first n images of the split
  --pool <avg|cls>       default avg
${importHelp}
${backendHelp}`;

/** The flags `maskedssl embed` accepts (its help lists each). */
export const embedFlags = {
    import: { type: 'string', multiple: true },
    checkpoint: { type: 'string' },
    dataset: { type: 'string' },
    'data-dir': { type: 'string' },
    split: { type: 'string' },
    limit: { type: 'string' },
    pool: { type: 'string' },
    out: { type: 'string' },
    backend: { type: 'string' },
  } satisfies Options;

export async function embedCommand(argv: string[]): Promise<number> {
  const f = parseFlags(argv, embedFlags);
  await importMethods(f.import);
  if (!f.checkpoint) throw new UsageError('--checkpoint is required');
  if (!f.out) throw new UsageError('--out is required (a .safetensors file)');
  const split = f.split ?? 'test';
  if (split !== 'train' && split !== 'test') throw new UsageError(`--split: '${split}' is not train or test`);
  const pool = f.pool ?? 'avg';
  if (pool !== 'avg' && pool !== 'cls') throw new UsageError(`--pool: '${pool}' is not avg or cls`);
  const limit = positiveInt(f.limit, '--limit');
  const parsed = DatasetConfig.safeParse({ ...(f.dataset && { name: f.dataset }), ...(f['data-dir'] && { dataDir: f['data-dir'] }) });
  if (!parsed.success) throw new UsageError(`--dataset: ${parsed.error.issues[0]?.message}`);
  await setupBackend(f.backend);
  const dataset = await openDataset(parsed.data, split);
  const source = await checkpointFeatures(f.checkpoint, pool);
  try {
    const n = Math.min(limit ?? dataset.length, dataset.length);
    const indices = Int32Array.from({ length: n }, (_, i) => i);
    const feats = await extractFeatures(dataset, source.fn, { indices });
    const tensors: Record<string, SafetensorsTensor> = {
      features: { dtype: 'F32', shape: [feats.n, feats.dim], data: feats.features },
      indices: { dtype: 'I32', shape: [n], data: indices },
    };
    if (feats.labels) tensors.labels = { dtype: 'I32', shape: [n], data: feats.labels };
    await writeSafetensorsFile(f.out, tensors, {
      method: String(source.info.method),
      checkpoint: String(source.info.checkpoint),
      dataset: dataset.name,
      split,
      pool,
    });
    process.stdout.write(`${f.out}: ${feats.n} x ${feats.dim} features of ${dataset.name} (${source.name}, ${pool} pooling)\n`);
    return 0;
  } finally {
    source.dispose();
  }
}
