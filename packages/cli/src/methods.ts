// The methods the CLI knows: every ObjectiveDefinition the method packages export, registered once.
import { listObjectives, registerObjective, type ObjectiveDefinition } from '@maskedssl/core';
import * as baselines from '@maskedssl/baselines';
import * as moca from '@maskedssl/moca';

/** Methods of the head-to-head plan that may not be implemented yet (refused with a clear message). */
export const plannedMethods = ['moca', 'mae', 'mocov3', 'maskco'] as const;

let registered = false;
export function registerMethods(): void {
  if (registered) return;
  for (const mod of [moca, baselines] as Record<string, unknown>[]) {
    for (const value of Object.values(mod)) {
      if (isDefinition(value)) registerObjective(value);
    }
  }
  registered = true;
}

function isDefinition(v: unknown): v is ObjectiveDefinition {
  return typeof v === 'object' && v !== null && 'configSchema' in v && 'create' in v && typeof (v as { name?: unknown }).name === 'string';
}

export function methodNames(): string[] {
  return listObjectives().map((d) => d.name);
}
