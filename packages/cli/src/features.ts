// Where features come from: a checkpoint's backbone (what the method names for evaluation), raw
// pixels, or the same ViT with random weights. The caller disposes the returned source.
import { stat } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs-core';
import { createVit, loadObjective, pixelFeatures, Rng, vitConfig, vitFeatureFn, vitPresets, type FeatureFn, type VitConfig, type VitPresetName } from '@maskedssl/core/node';
import { UsageError } from './errors.js';

export interface FeatureSource {
  name: string;
  fn: FeatureFn;
  /** Extra facts for reports (method, checkpoint step). */
  info: Record<string, unknown>;
  /** The ViT the features come from (none for pixels). */
  backbone?: VitConfig;
  dispose(): void;
}

export async function checkpointFeatures(path: string, pool: 'avg' | 'cls'): Promise<FeatureSource> {
  const { objective, run, checkpoint } = await loadObjective(path);
  const { config, params } = objective.backbone();
  return {
    name: run.method,
    fn: vitFeatureFn(config, params, { pool }),
    info: { method: run.method, checkpoint: checkpoint.path, step: checkpoint.step },
    backbone: config,
    dispose: () => objective.dispose(),
  };
}

export function pixelSource(): FeatureSource {
  return { name: 'pixels', fn: pixelFeatures, info: {}, dispose: () => undefined };
}

/** A randomly initialised ViT of a preset, reshaped to the dataset's images. */
export function randomInitSource(preset: string, imageShape: [number, number, number], seed: number, pool: 'avg' | 'cls'): FeatureSource {
  if (!(preset in vitPresets)) throw new UsageError(`--backbone: unknown preset '${preset}' (choose from ${Object.keys(vitPresets).join(', ')})`);
  const config = vitConfig(preset as VitPresetName, { imageSize: imageShape[0], inChannels: imageShape[2] });
  return randomVitSource(config, seed, pool, preset);
}

/** A short name of a ViT's shape for reports, e.g. `d64 depth 4 patch 4`. */
export function backboneLabel(config: VitConfig): string {
  return `d${config.embedDim} depth ${config.depth} patch ${config.patchSize}`;
}

/**
 * Random weights in the shape `backbone` names: a ViT preset (reshaped to the dataset's images), or a
 * run or checkpoint folder, whose trained backbone gives the shape (the floor of that very network).
 */
export async function randomInitLike(backbone: string, imageShape: [number, number, number], seed: number, pool: 'avg' | 'cls'): Promise<FeatureSource> {
  if (backbone in vitPresets) return randomInitSource(backbone, imageShape, seed, pool);
  const isDir = await stat(backbone).then((s) => s.isDirectory(), () => false);
  if (!isDir) throw new UsageError(`--backbone: '${backbone}' is neither a ViT preset (${Object.keys(vitPresets).join(', ')}) nor a run or checkpoint folder`);
  const { objective } = await loadObjective(backbone);
  const { config } = objective.backbone();
  objective.dispose();
  return randomVitSource(config, seed, pool, backboneLabel(config));
}

/** A randomly initialised ViT of the given shape (e.g. the backbone a trained method used). */
export function randomVitSource(config: VitConfig, seed: number, pool: 'avg' | 'cls', label: string): FeatureSource {
  const vit = createVit(config, new Rng(seed), 'random-init');
  return {
    name: 'random-init',
    fn: vitFeatureFn(config, vit.params, { pool }),
    info: { backbone: label },
    backbone: config,
    dispose: () => tf.dispose(Object.values(vit.params)),
  };
}
