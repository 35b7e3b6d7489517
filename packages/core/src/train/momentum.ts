// Momentum (EMA) pairs, as solo-learn's BaseMomentumMethod: a method declares which teacher follows
// which student and its momentum schedule; the trainer moves every teacher after every optimiser step.
// One convention for every method: after step s (0-based) the teachers move with momentum m(s + 1) of
// a half cosine from `momentum` at step 0 to `momentumEnd` at the run's last step (MoCo v3's: its
// reference updates at the start of iteration s + 1 with m(s + 1), which is this same update). DINO and
// iBOT update after step s with m(s): on this convention they run one step ahead of their schedule,
// a difference of one step in a run of thousands. A config declares the two with `momentumFields`.
import { z } from 'zod';
import { cosineMomentum } from '../optim/schedules.js';
import type { ParamTree } from '../nn/params.js';
import type { EmaTeacher } from '../teacher/ema-teacher.js';
import type { StepInfo } from './objective.js';

/** What an objective declares (Objective.momentumPairs): teachers, their students, the schedule's ends. */
export interface MomentumPairs {
  pairs: readonly { student: ParamTree; teacher: EmaTeacher }[];
  /** Momentum at step 0. */
  momentum: number;
  /** Momentum at the last step (1: the teacher freezes as the run ends). */
  momentumEnd: number;
}

/** The momentum the teachers move with after step `info.step`: m(step + 1) of the half cosine. */
export function momentumAfterStep(info: StepInfo, momentum: number, momentumEnd: number): number {
  return cosineMomentum(Math.min(info.step + 1, info.totalSteps), info.totalSteps, momentum, momentumEnd);
}

/** Moves every teacher of `spec` towards its student (the trainer calls this after afterStep). */
export function updateMomentumPairs(spec: MomentumPairs, info: StepInfo): void {
  const m = momentumAfterStep(info, spec.momentum, spec.momentumEnd);
  for (const { student, teacher } of spec.pairs) teacher.update(student, m);
}

/**
 * The config fields of a momentum schedule, with the method's defaults: spread them into a
 * z.object and call `checkMomentum` in its superRefine.
 *
 * @example z.object({ ...momentumFields(0.99, 1), temperature: z.number() }).superRefine(checkMomentum)
 */
export function momentumFields(momentum: number, momentumEnd: number) {
  return {
    /** EMA momentum of the teacher at step 0... */
    momentum: z.number().min(0).max(1).default(momentum),
    /** ...rising along a half cosine to this at the last step (= momentum for a constant one). */
    momentumEnd: z.number().min(0).max(1).default(momentumEnd),
  };
}

/** For a superRefine: momentumEnd may not be below momentum. */
export function checkMomentum(c: { momentum: number; momentumEnd: number }, ctx: z.RefinementCtx): void {
  if (c.momentumEnd < c.momentum) ctx.addIssue({ code: 'custom', path: ['momentumEnd'], message: `momentumEnd ${c.momentumEnd} is below momentum ${c.momentum}` });
}
