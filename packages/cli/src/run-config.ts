// The resolved configuration of a run: method + its config, trainer, dataset. Built from, in order of
// precedence (later wins): the method's preset (default: its `fashion-mnist` preset for the datasets of
// small grey images, when it has one), a
// JSON file (--config), --set key=value pairs, then dedicated flags (--budget, --seed). Every section
// is validated by its zod schema; an unknown key or a bad value is refused naming `section.field`.
import { readFileSync } from 'node:fs';
import { getObjective, TrainerConfig, type ObjectiveDefinition, type TrainerConfig as TrainerConfigT } from '@maskedssl/core/node';
import { z } from 'zod';
import { DatasetConfig } from './datasets.js';
import { UsageError } from './errors.js';

export interface RunConfig {
  method: string;
  preset: string | null;
  methodConfig: Record<string, unknown>;
  trainer: TrainerConfigT;
  dataset: DatasetConfig;
}

const FileConfig = z
  .object({
    method: z.record(z.string(), z.unknown()).optional(),
    trainer: z.record(z.string(), z.unknown()).optional(),
    dataset: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

type Sections = { method: Record<string, unknown>; trainer: Record<string, unknown>; dataset: Record<string, unknown> };

/** `trainer.lr=1e-3` -> sets sections.trainer.lr (nested keys with dots); values are JSON when they parse. */
export function applySet(sections: Sections, assignment: string): void {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new UsageError(`--set '${assignment}': expected key=value, e.g. --set trainer.lr=0.001`);
  const key = assignment.slice(0, eq).trim();
  const raw = assignment.slice(eq + 1);
  const [section, ...path] = key.split('.');
  if (section !== 'method' && section !== 'trainer' && section !== 'dataset') {
    throw new UsageError(`--set ${key}: the key must start with method., trainer. or dataset.`);
  }
  if (path.length === 0) throw new UsageError(`--set ${key}: name a field, e.g. ${section}.${section === 'trainer' ? 'lr' : 'name'}`);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // a plain string
  }
  let target: Record<string, unknown> = sections[section];
  for (const p of path.slice(0, -1)) {
    const next = target[p];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) target[p] = {};
    target = target[p] as Record<string, unknown>;
  }
  target[path[path.length - 1]!] = value;
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      typeof v === 'object' && v !== null && !Array.isArray(v) && typeof b === 'object' && b !== null && !Array.isArray(b)
        ? merge(b as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

function issues(section: string, error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const path = [section, ...i.path.map(String)].join('.');
      if (i.code === 'unrecognized_keys') return `${section}${i.path.length ? '.' + i.path.join('.') : ''}: unknown key ${i.keys.map((k) => `'${k}'`).join(', ')}`;
      return `${path}: ${i.message}`;
    })
    .join('; ');
}

/** The datasets that get a method's `fashion-mnist` preset unless --preset says otherwise (others: none). */
const FASHION_MNIST_PRESET_DATASETS: readonly string[] = ['fashion-mnist', 'mnist', 'procedural'];
const DEFAULT_PRESET = 'fashion-mnist';

export interface ResolveInput {
  method: string;
  preset?: string;
  configFile?: string;
  sets?: string[];
  budget?: string;
  seed?: number;
  dataset?: Partial<DatasetConfig>;
}

export function resolveRunConfig(input: ResolveInput): RunConfig {
  let def: ObjectiveDefinition;
  try {
    def = getObjective(input.method);
  } catch (e) {
    throw new UsageError(`--method: ${(e as Error).message}`);
  }
  const sections: Sections = { method: {}, trainer: {}, dataset: { ...input.dataset } };
  if (input.configFile) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(input.configFile, 'utf8'));
    } catch (e) {
      throw new UsageError(`--config ${input.configFile}: ${(e as Error).message}`);
    }
    const file = FileConfig.safeParse(parsed);
    if (!file.success) throw new UsageError(`--config ${input.configFile}: ${issues('(file)', file.error)}`);
    sections.method = merge(sections.method, file.data.method ?? {});
    sections.trainer = merge(sections.trainer, file.data.trainer ?? {});
    sections.dataset = merge(file.data.dataset ?? {}, sections.dataset);
  }
  for (const s of input.sets ?? []) applySet(sections, s);
  if (input.budget !== undefined) sections.trainer.budget = input.budget;
  if (input.seed !== undefined) sections.trainer.seed = input.seed;

  const dataset = DatasetConfig.safeParse(sections.dataset);
  if (!dataset.success) throw new UsageError(issues('dataset', dataset.error));
  const fallback = FASHION_MNIST_PRESET_DATASETS.includes(dataset.data.name) && DEFAULT_PRESET in def.presets ? DEFAULT_PRESET : null;
  const presetName = input.preset ?? fallback;
  if (presetName !== null && !(presetName in def.presets)) {
    throw new UsageError(`--preset: ${def.name} has no preset '${presetName}' (presets: ${Object.keys(def.presets).join(', ') || 'none'})`);
  }
  const methodInput = merge(presetName ? def.presets[presetName]! : {}, sections.method);
  const method = def.configSchema.safeParse(methodInput);
  if (!method.success) throw new UsageError(issues('method', method.error));
  const trainerInput = merge((presetName && def.trainerPresets?.[presetName]) || {}, sections.trainer);
  const trainer = TrainerConfig.safeParse(trainerInput);
  if (!trainer.success) throw new UsageError(issues('trainer', trainer.error));
  return { method: def.name, preset: presetName, methodConfig: method.data as Record<string, unknown>, trainer: trainer.data, dataset: dataset.data };
}
