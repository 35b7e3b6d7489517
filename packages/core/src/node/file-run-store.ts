// A run folder as the trainer's RunStore (Node): `metrics.jsonl` (one JSON record per step),
// `checkpoints/step-XXXXXXXX/` (node/checkpoint-dir.ts) and, written by the CLI, `config.json`.
// A run resumed from a checkpoint runs the steps logged after it again: `dropMetricsFrom` removes
// their records first, so the log holds each step once.
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunStore } from '../train/trainer.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint-dir.js';
import { writeFileAtomic } from './safetensors-files.js';

/** One line of metrics.jsonl: the trainer's step record (`step` counts from 0). */
export type MetricsRecord = { step: number } & Record<string, unknown>;

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

/**
 * The records of `<dir>/metrics.jsonl` ([] when there is none). A last line cut short (the process was
 * killed while appending) is left out; any other line that is not a step record is an error naming
 * the file and line.
 */
export async function readMetrics(dir: string): Promise<MetricsRecord[]> {
  const path = join(dir, 'metrics.jsonl');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Error(`${path}: cannot read (${(e as Error).message})`);
  }
  const lines = text.split('\n');
  const records: MetricsRecord[] = [];
  for (const [i, line] of lines.entries()) {
    if (line === '') continue;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      record = undefined;
    }
    const isRecord = typeof record === 'object' && record !== null && typeof (record as { step?: unknown }).step === 'number';
    if (isRecord) records.push(record as MetricsRecord);
    else if (i !== lines.length - 1) throw new Error(`${path}: line ${i + 1} is not a step record`);
  }
  return records;
}

/**
 * Keeps only the records of steps before `step` in `<dir>/metrics.jsonl` (a checkpoint at step s has
 * run steps 0..s-1; a run resumed from it logs s onwards again), rewriting the file atomically.
 * Returns how many records were dropped.
 */
export async function dropMetricsFrom(dir: string, step: number): Promise<number> {
  const path = join(dir, 'metrics.jsonl');
  const records = await readMetrics(dir);
  const kept = records.filter((r) => r.step < step);
  const raw = await readFile(path, 'utf8').catch(() => '');
  const wanted = kept.map((r) => JSON.stringify(r) + '\n').join('');
  if (raw === wanted) return 0;
  await writeFileAtomic(path, new TextEncoder().encode(wanted));
  return records.length - kept.length;
}
