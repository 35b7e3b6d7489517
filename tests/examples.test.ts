// The examples are real programs: each runs and does what its header says.
import { describe, expect, it } from 'vitest';
import { getObjective } from '@maskedssl/core/node';
import { demo, maskedRegression } from '../examples/custom-objective.js';

describe('examples/custom-objective.ts', () => {
  it('registers a working objective that trains and learns', async () => {
    const losses = await demo(30);
    expect(losses).toHaveLength(30);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(getObjective('masked-regression')).toBe(maskedRegression);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(losses.slice(-5))).toBeLessThan(mean(losses.slice(0, 5)));
  });
});
