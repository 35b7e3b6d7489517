// The methods the CLI knows: every ObjectiveDefinition the method packages export, registered once,
// and those of the user's own ES modules named with --import (repeatable; a path resolved against the
// working directory: .js/.mjs, or .ts when maskedssl runs under tsx).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isObjectiveDefinition, listObjectives, registerObjectivesOf } from '@maskedssl/core/node';
import * as baselines from '@maskedssl/baselines';
import * as moca from '@maskedssl/moca';
import { UsageError } from './errors.js';

let registered = false;
export function registerMethods(): void {
  if (registered) return;
  registerObjectivesOf(moca, baselines);
  registered = true;
}

export function methodNames(): string[] {
  return listObjectives().map((d) => d.name);
}

/** The help line of --import, shared by every command that resolves methods. */
export const importHelp = `  --import <module>      register the methods (ObjectiveDefinitions) an ES module exports; a path
                         against the working directory (.js, .mjs; .ts under tsx); repeatable`;

/** Imports each module and registers the ObjectiveDefinitions it exports; returns their names. Errors name the file. */
export async function importMethods(specs: readonly string[] | undefined, cwd = process.cwd()): Promise<string[]> {
  const names: string[] = [];
  for (const spec of specs ?? []) {
    const path = resolve(cwd, spec);
    if (!existsSync(path)) throw new UsageError(`--import ${spec}: no such file (${path})`);
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    } catch (e) {
      const hint = /\.ts$/.test(path) && /Unknown file extension/.test((e as Error).message) ? ' (a .ts module needs maskedssl to run under tsx, or compile it to .js)' : '';
      throw new Error(`--import ${spec}: ${(e as Error).message.split('\n')[0]}${hint}`);
    }
    const definitions = Object.values(mod).filter(isObjectiveDefinition);
    if (definitions.length === 0) throw new UsageError(`--import ${spec}: exports no ObjectiveDefinition (an object with name, configSchema and create)`);
    try {
      registerObjectivesOf(mod);
    } catch (e) {
      throw new UsageError(`--import ${spec}: ${(e as Error).message}`);
    }
    names.push(...definitions.map((d) => d.name));
  }
  return names;
}
