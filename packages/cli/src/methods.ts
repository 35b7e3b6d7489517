// The methods the CLI knows: every ObjectiveDefinition the method packages export, registered once.
import { listObjectives, registerObjectivesOf } from '@maskedssl/core/node';
import * as baselines from '@maskedssl/baselines';
import * as moca from '@maskedssl/moca';

/** Methods of the head-to-head plan that may not be implemented yet (refused with a clear message). */
export const plannedMethods = ['moca', 'mae', 'mocov3', 'maskco'] as const;

let registered = false;
export function registerMethods(): void {
  if (registered) return;
  registerObjectivesOf(moca, baselines);
  registered = true;
}

export function methodNames(): string[] {
  return listObjectives().map((d) => d.name);
}
