// The methods the CLI knows: every ObjectiveDefinition the method packages export, registered once.
import { listObjectives, registerObjectivesOf } from '@maskedssl/core/node';
import * as baselines from '@maskedssl/baselines';
import * as moca from '@maskedssl/moca';

let registered = false;
export function registerMethods(): void {
  if (registered) return;
  registerObjectivesOf(moca, baselines);
  registered = true;
}

export function methodNames(): string[] {
  return listObjectives().map((d) => d.name);
}
