// Opening a dataset split by name for the commands: fashion-mnist, mnist, cifar10, cifar100, an image
// folder (root/train/<class>/*, root/test/<class>/*), or the procedural one (fast, for smoke runs).
import { join } from 'node:path';
import { loadCifar10, loadCifar100, loadFashionMnist, loadImageFolder, loadMnist, proceduralDataset, type Dataset } from '@maskedssl/core/node';
import { z } from 'zod';

export const datasetNames = ['fashion-mnist', 'mnist', 'cifar10', 'cifar100', 'folder', 'procedural'] as const;

export const DatasetConfig = z
  .object({
    name: z.enum(datasetNames).default('fashion-mnist'),
    /** Where the files are (--data-dir); required for cifar and folder. */
    dataDir: z.string().optional(),
    /** Image side for `folder` (resized) and `procedural`. */
    imageSize: z.number().int().positive().default(28),
    /** Channels for `folder` (1 or 3). */
    channels: z.union([z.literal(1), z.literal(3)]).default(1),
    /** Images per split for `procedural`. */
    proceduralTrain: z.number().int().positive().default(2048),
    proceduralTest: z.number().int().positive().default(512),
  })
  .strict();
export type DatasetConfig = z.output<typeof DatasetConfig>;

export async function openDataset(config: DatasetConfig, split: 'train' | 'test'): Promise<Dataset> {
  const needDir = (what: string) => {
    if (!config.dataDir) throw new Error(`dataset ${config.name} needs --data-dir (${what})`);
    return config.dataDir;
  };
  const opts = config.dataDir ? { dataDir: config.dataDir } : {};
  switch (config.name) {
    case 'fashion-mnist':
      return loadFashionMnist(split, opts);
    case 'mnist':
      return loadMnist(split, opts);
    case 'cifar10':
      return loadCifar10(split, needDir('the folder of the CIFAR-10 binary batches'));
    case 'cifar100':
      return loadCifar100(split, needDir('the folder of the CIFAR-100 binary files'));
    case 'folder':
      return loadImageFolder({ root: join(needDir('a folder with train/<class>/ and test/<class>/'), split), size: config.imageSize, channels: config.channels, name: `folder/${split}` });
    case 'procedural':
      return proceduralDataset({
        count: split === 'train' ? config.proceduralTrain : config.proceduralTest,
        seed: split === 'train' ? 1 : 2,
        size: config.imageSize,
        name: `procedural/${split}`,
      });
  }
}
