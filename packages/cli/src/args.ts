// Flag parsing shared by the commands (node's util.parseArgs, strict), with errors that name the flag.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses `argv` for one command; unknown flags, missing values and stray positionals are usage errors. */
export function parseFlags<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    const msg = (e as Error).message;
    const unknown = /Unknown option '([^']+)'/.exec(msg);
    if (unknown) throw new UsageError(`unknown flag ${unknown[1]} (see --help)`);
    const missing = /Option '([^']+)' argument missing/.exec(msg);
    if (missing) throw new UsageError(`flag ${missing[1]!.split(' ').pop()} needs a value`);
    const positional = /Unexpected argument '([^']+)'/.exec(msg);
    if (positional) throw new UsageError(`unexpected argument '${positional[1]}' (flags take the form --name value)`);
    throw new UsageError(msg.split('\n')[0]!);
  }
}

/** A required string flag. */
export function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new UsageError(`${flag} is required`);
  return value;
}

/** A positive integer flag. */
export function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, got '${value}'`);
  return n;
}

/** A comma-separated list checked against the allowed values. */
export function listOf<T extends string>(value: string, flag: string, allowed: readonly T[]): T[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    if (!allowed.includes(item as T)) throw new UsageError(`${flag}: unknown value '${item}' (choose from ${allowed.join(', ')})`);
  }
  if (items.length === 0) throw new UsageError(`${flag} needs at least one value`);
  return items as T[];
}
