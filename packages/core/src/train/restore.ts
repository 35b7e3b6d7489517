// Putting a checkpoint's values back into a method's variables, and rebuilding a method from a
// checkpoint alone (for evaluation, embedding and export): the checkpoint records the method name,
// its resolved config and the image shape, so the registry can create it again.
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { VariableTree } from '../nn/params.js';
import { Rng } from '../util/rng.js';
import type { LoadedCheckpoint } from './checkpoint-format.js';
import type { Objective } from './objective.js';
import { getObjective } from './registry.js';

const PREFIX = 'var/';

/** Assigns every variable from `var/<name>` tensors; refuses missing, unexpected or reshaped ones. */
export function assignVariables(vars: VariableTree, ckpt: LoadedCheckpoint): void {
  const stored = Object.keys(ckpt.tensors).filter((k) => k.startsWith(PREFIX)).map((k) => k.slice(PREFIX.length));
  const extra = stored.filter((n) => !(n in vars));
  const missing = Object.keys(vars).filter((n) => !stored.includes(n));
  if (missing.length || extra.length) {
    const parts = [missing.length ? `missing ${missing.join(', ')}` : '', extra.length ? `unexpected ${extra.join(', ')}` : ''];
    throw new Error(`checkpoint ${ckpt.path} does not match the model: ${parts.filter(Boolean).join('; ')}`);
  }
  for (const [name, v] of Object.entries(vars)) {
    const t = ckpt.tensors[PREFIX + name]!;
    if (t.shape.join(',') !== v.shape.join(',')) {
      throw new Error(`checkpoint ${ckpt.path}: '${name}' is [${t.shape}] there but [${v.shape}] in the model (a different config?)`);
    }
  }
  for (const [name, v] of Object.entries(vars)) {
    const t = ckpt.tensors[PREFIX + name]!;
    tf.tidy(() => v.assign(tf.tensor(t.data as Float32Array, t.shape, v.dtype)));
  }
}

/** What a run records in its checkpoints to be rebuilt (TrainerSetup.runInfo). */
export const RunInfo = z
  .object({
    method: z.string(),
    methodConfig: z.record(z.string(), z.unknown()),
    imageShape: z.tuple([z.number().int().positive(), z.number().int().positive(), z.number().int().positive()]),
    batchSize: z.number().int().positive(),
  })
  .passthrough();
export type RunInfo = z.infer<typeof RunInfo>;

/**
 * Rebuilds a checkpoint's method with the trained values (the method must be registered); in Node,
 * `loadObjective(path)` of '@maskedssl/core/node' reads the checkpoint first.
 * The caller disposes the objective.
 */
export async function objectiveFromCheckpoint(checkpoint: LoadedCheckpoint): Promise<{ objective: Objective; run: RunInfo; checkpoint: LoadedCheckpoint }> {
  const parsed = RunInfo.safeParse(checkpoint.state.run);
  if (!parsed.success) throw new Error(`checkpoint ${checkpoint.path}: it does not record its run (method, config, image shape); was it written by 'maskedssl pretrain'?`);
  const run = parsed.data;
  const def = getObjective(run.method);
  const config = def.configSchema.safeParse(run.methodConfig);
  if (!config.success) {
    throw new Error(`checkpoint ${checkpoint.path}: its ${run.method} config no longer validates (${config.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')})`);
  }
  const objective = await def.create(config.data, { imageShape: run.imageShape, batchSize: run.batchSize, rng: new Rng(0) });
  try {
    assignVariables(objective.variables(), checkpoint);
    const state = checkpoint.state.objective;
    if (state && typeof state === 'object') objective.setState?.(state as Record<string, unknown>);
  } catch (e) {
    objective.dispose();
    throw e;
  }
  return { objective, run, checkpoint };
}
