// Method name -> definition. A new SSL objective is one file exporting an ObjectiveDefinition plus one
// `registerObjective(...)` line (the CLI registers the methods of every package it ships).
import type { ObjectiveDefinition } from './objective.js';

const registry = new Map<string, ObjectiveDefinition>();

export function registerObjective(definition: ObjectiveDefinition): void {
  if (!/^[a-z][a-z0-9-]*$/.test(definition.name)) {
    throw new Error(`registerObjective: name '${definition.name}' must be lower-case letters, digits and dashes`);
  }
  const existing = registry.get(definition.name);
  if (existing && existing !== definition) throw new Error(`registerObjective: '${definition.name}' is already registered`);
  registry.set(definition.name, definition);
}

export function getObjective(name: string): ObjectiveDefinition {
  const d = registry.get(name);
  if (!d) {
    const known = [...registry.keys()].sort();
    throw new Error(`unknown method '${name}' (registered: ${known.length ? known.join(', ') : 'none'})`);
  }
  return d;
}

export function listObjectives(): ObjectiveDefinition[] {
  return [...registry.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Whether `v` has the shape of an ObjectiveDefinition (a name, a configSchema and create). */
export function isObjectiveDefinition(v: unknown): v is ObjectiveDefinition {
  return typeof v === 'object' && v !== null && 'configSchema' in v && 'create' in v && typeof (v as { name?: unknown }).name === 'string';
}

/** Registers every ObjectiveDefinition among the exports of `modules` (e.g. `import * as moca from '@maskedssl/moca'`). */
export function registerObjectivesOf(...modules: object[]): void {
  for (const mod of modules) for (const value of Object.values(mod)) if (isObjectiveDefinition(value)) registerObjective(value);
}
