// Rebuilding a method from a checkpoint on disk (Node): loadCheckpoint, then objectiveFromCheckpoint.
import type { LoadedCheckpoint } from '../train/checkpoint-format.js';
import type { Objective } from '../train/objective.js';
import { objectiveFromCheckpoint, type RunInfo } from '../train/restore.js';
import { loadCheckpoint } from './checkpoint-dir.js';

/** Loads the checkpoint at `path` (see loadCheckpoint) and rebuilds its method; the caller disposes the objective. */
export async function loadObjective(path: string): Promise<{ objective: Objective; run: RunInfo; checkpoint: LoadedCheckpoint }> {
  return objectiveFromCheckpoint(await loadCheckpoint(path));
}
