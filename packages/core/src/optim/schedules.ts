// Per-iteration schedules for the learning rate, weight decay and EMA momentum: pure functions of
// the step number, so resuming from a checkpoint only needs the step. cosineSchedule reproduces the
// `cosine_scheduler` of DINO/iBOT/BEiT (the array it builds, indexed by iteration).
import { z } from 'zod';

/** A value as a function of the (0-based) optimisation step. */
export type Schedule = (step: number) => number;

function checkStep(step: number): void {
  if (!Number.isInteger(step) || step < 0) throw new Error(`schedule: step must be a non-negative integer, got ${step}`);
}

function checkFinite(field: string, x: number): void {
  if (!Number.isFinite(x)) throw new Error(`schedule: ${field} must be a finite number, got ${x}`);
}

export interface CosineScheduleOptions {
  base: number;
  final: number;
  totalSteps: number;
  warmupSteps?: number;
  warmupStart?: number;
}

/**
 * Linear warmup over `warmupSteps` steps from `warmupStart` to `base` (np.linspace, so the last
 * warmup step is exactly `base`), then a half cosine from `base` towards `final` over the remaining
 * steps; from `totalSteps` on, `final`. Equal to DINO's
 * `cosine_scheduler(base, final, epochs, niter_per_ep, warmup_epochs, start_warmup_value)[step]`.
 */
export function cosineSchedule(options: CosineScheduleOptions): Schedule {
  const { base, final, totalSteps, warmupSteps = 0, warmupStart = 0 } = options;
  checkFinite('base', base);
  checkFinite('final', final);
  checkFinite('warmupStart', warmupStart);
  if (!Number.isInteger(totalSteps) || totalSteps <= 0) {
    throw new Error(`cosineSchedule: totalSteps must be a positive integer, got ${totalSteps}`);
  }
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0) {
    throw new Error(`cosineSchedule: warmupSteps must be a non-negative integer, got ${warmupSteps}`);
  }
  if (warmupSteps > totalSteps) {
    throw new Error(`cosineSchedule: warmupSteps (${warmupSteps}) must not exceed totalSteps (${totalSteps})`);
  }
  const decaySteps = totalSteps - warmupSteps;
  return (step) => {
    checkStep(step);
    if (step < warmupSteps) {
      return warmupSteps === 1 ? warmupStart : warmupStart + ((base - warmupStart) * step) / (warmupSteps - 1);
    }
    if (step >= totalSteps) return final;
    const i = step - warmupSteps;
    return final + 0.5 * (base - final) * (1 + Math.cos((Math.PI * i) / decaySteps));
  };
}

/** The same value at every step. */
export function constantSchedule(value: number): Schedule {
  checkFinite('value', value);
  return (step) => {
    checkStep(step);
    return value;
  };
}

/**
 * EMA teacher momentum at `step`: final - (final - base) * (cos(pi * step / totalSteps) + 1) / 2,
 * rising from `base` to `final` (1 by default), and `final` after totalSteps (as DINO's schedule).
 */
export function cosineMomentum(step: number, totalSteps: number, base: number, final = 1): number {
  checkStep(step);
  if (!Number.isInteger(totalSteps) || totalSteps <= 0) {
    throw new Error(`cosineMomentum: totalSteps must be a positive integer, got ${totalSteps}`);
  }
  checkFinite('base', base);
  checkFinite('final', final);
  const t = Math.min(step, totalSteps);
  return final - ((final - base) * (Math.cos((Math.PI * t) / totalSteps) + 1)) / 2;
}

export const ScheduleConfig = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('cosine'),
      base: z.number(),
      final: z.number(),
      totalSteps: z.number().int().positive(),
      warmupSteps: z.number().int().nonnegative().default(0),
      warmupStart: z.number().default(0),
    })
    .strict()
    .refine((c) => c.warmupSteps <= c.totalSteps, {
      path: ['warmupSteps'],
      message: 'must not exceed totalSteps',
    }),
  z.object({ kind: z.literal('constant'), value: z.number() }).strict(),
]);
/** A schedule as written in a config file, e.g. `{kind: 'cosine', base: 1.5e-4, final: 0, totalSteps, warmupSteps}`. */
export type ScheduleConfig = z.input<typeof ScheduleConfig>;

/** Build a schedule from a (validated) config; errors name the offending field. */
export function makeSchedule(config: ScheduleConfig): Schedule {
  const parsed = ScheduleConfig.safeParse(config);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`);
    throw new Error(`schedule config: ${issues.join('; ')}`);
  }
  const c = parsed.data;
  return c.kind === 'cosine' ? cosineSchedule(c) : constantSchedule(c.value);
}
