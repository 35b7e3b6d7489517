// A run folder as the trainer's RunStore (Node): `metrics.jsonl` (one JSON record per step),
// `checkpoints/step-XXXXXXXX/` (node/checkpoint-dir.ts) and, written by the CLI, `config.json`.
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunStore } from '../train/trainer.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint-dir.js';

/** The trainer's store for the run folder `dir` (created on the first write). */
export function fileRunStore(dir: string): RunStore & { dir: string } {
  return {
    dir,
    async appendMetrics(record) {
      await mkdir(dir, { recursive: true });
      await appendFile(join(dir, 'metrics.jsonl'), JSON.stringify(record) + '\n');
    },
    saveCheckpoint: (step, tensors, state, keep) => saveCheckpoint(join(dir, 'checkpoints'), step, tensors, state, { keep }),
    loadCheckpoint: (ref) => loadCheckpoint(ref),
  };
}

/** Writes the resolved configuration of a run next to its checkpoints. */
export async function writeRunConfig(outDir: string, config: Record<string, unknown>): Promise<void> {
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
}
