// Training budgets: a number of optimiser steps, of epochs, or wall-clock time ("500", "500steps",
// "3epochs", "90s", "10m", "1.5h"). A time budget fixes its step count after a few measured steps, so
// schedules are still functions of the step and a resumed run follows the same schedule.
import { z } from 'zod';

export const Budget = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('steps'), steps: z.number().int().positive() }).strict(),
  z.object({ kind: z.literal('epochs'), epochs: z.number().positive() }).strict(),
  z.object({ kind: z.literal('time'), seconds: z.number().positive() }).strict(),
]);
export type Budget = z.infer<typeof Budget>;

/** Parses a budget string; throws naming the accepted forms. */
export function parseBudget(text: string): Budget {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(steps?|epochs?|ep|s|sec|m|min|h)?\s*$/.exec(text);
  if (!m) {
    throw new Error(`budget '${text}': expected steps ("500" or "500steps"), epochs ("3epochs") or time ("90s", "10m", "1.5h")`);
  }
  const value = Number(m[1]);
  const unit = m[2] ?? 'steps';
  if (!(value > 0)) throw new Error(`budget '${text}': must be positive`);
  if (unit.startsWith('step')) {
    if (!Number.isInteger(value)) throw new Error(`budget '${text}': a step count must be a whole number`);
    return { kind: 'steps', steps: value };
  }
  if (unit.startsWith('ep')) return { kind: 'epochs', epochs: value };
  const seconds = unit === 'h' ? value * 3600 : unit === 'm' || unit === 'min' ? value * 60 : value;
  return { kind: 'time', seconds };
}

export function formatBudget(b: Budget): string {
  if (b.kind === 'steps') return `${b.steps} steps`;
  if (b.kind === 'epochs') return `${b.epochs} epochs`;
  return formatDuration(b.seconds);
}

/** 75 -> "1m15s", 3725 -> "1h02m", 9 -> "9s". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
