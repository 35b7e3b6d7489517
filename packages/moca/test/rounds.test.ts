// The two complementary masking rounds at 49 tokens: sizes from the reference's ratios, disjoint
// visible sets, one shared masked set, and the decoders' scored positions.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, Rng } from '@maskedssl/core';
import { describe, expect, it } from 'vitest';
import { maskingRounds, maskSizes, mocaPresets, parseMocaConfig, stackRounds } from '../src/index.js';

await initBackend({ log: null });

describe('two complementary masking rounds at 49 tokens', () => {
  it("the reference's ratios give 22 / 9 / 12 at L = 49 (and 88 / 39 / 49 at L = 196); the preset states them as counts", () => {
    const defaults = parseMocaConfig({});
    expect(maskSizes(defaults, 49)).toEqual({ visible1: 22, masked: 9, visible2: 12 });
    expect(maskSizes(defaults, 196)).toEqual({ visible1: 88, masked: 39, visible2: 49 });
    const preset = parseMocaConfig(mocaPresets['fashion-mnist']);
    expect(preset.maskCounts).toEqual({ visible1: 22, masked: 9, visible2: 12 });
    expect(maskSizes(preset, 49)).toEqual(maskSizes(defaults, 49));
  });

  it('disjoint visible sets, one shared masked set, exact sizes; each decoder scores its visible set then M', () => {
    const b = 16;
    const r = maskingRounds(new Rng(9), b, 49, { visible1: 22, masked: 9, visible2: 12 });
    expect(r.visible[0].shape).toEqual([b, 22]);
    expect(r.visible[1].shape).toEqual([b, 12]);
    expect(r.masked.shape).toEqual([b, 9]);
    expect(r.scored[0].shape).toEqual([b, 31]);
    expect(r.scored[1].shape).toEqual([b, 21]);
    const [v1, v2, m, s1, s2] = [r.visible[0], r.visible[1], r.masked, r.scored[0], r.scored[1]].map((t) => t.arraySync() as number[][]) as [
      number[][],
      number[][],
      number[][],
      number[][],
      number[][],
    ];
    const distinctRows = new Set<string>();
    for (let i = 0; i < b; i++) {
      const all = [...v1[i]!, ...v2[i]!, ...m[i]!];
      expect(new Set(all).size).toBe(43); // V1, V2 and M pairwise disjoint
      expect(all.every((p) => p >= 0 && p < 49)).toBe(true);
      expect(s1[i]).toEqual([...v1[i]!, ...m[i]!]);
      expect(s2[i]).toEqual([...v2[i]!, ...m[i]!]);
      distinctRows.add(m[i]!.join());
    }
    expect(distinctRows.size).toBeGreaterThan(1); // each image draws its own permutation
    tf.dispose(r);
  });

  it('stacked for one pass: round 1 rows then round 2 rows, the shorter visible set padded and flagged, token weights that sum to 1 per round', () => {
    const b = 3;
    const r = maskingRounds(new Rng(2), b, 49, { visible1: 22, masked: 9, visible2: 12 });
    const s = stackRounds(r);
    expect(s.visible.shape).toEqual([2 * b, 22]);
    expect(s.scored.shape).toEqual([2 * b, 31]);
    const [vis, valid, masked, scored, w] = [s.visible, s.valid, s.masked, s.scored, s.tokenWeights].map((t) => t.arraySync() as number[][]) as number[][][];
    const [v1, v2, m] = [r.visible[0], r.visible[1], r.masked].map((t) => t.arraySync() as number[][]) as number[][][];
    for (let i = 0; i < b; i++) {
      expect(vis![i]).toEqual(v1![i]);
      expect(vis![b + i]).toEqual([...v2![i]!, ...Array(10).fill(0)]);
      expect(valid![i]).toEqual(Array(22).fill(1));
      expect(valid![b + i]).toEqual([...Array(12).fill(1), ...Array(10).fill(0)]);
      expect(masked![i]).toEqual(m![i]);
      expect(masked![b + i]).toEqual(m![i]);
      expect(scored![b + i]).toEqual([...vis![b + i]!, ...m![i]!]);
      expect(w![i]!.every((x) => Math.abs(x - 1 / (b * 31)) < 1e-9)).toBe(true);
      expect(w![b + i]).toEqual([...Array(12).fill(Math.fround(1 / (b * 21))), ...Array(10).fill(0), ...Array(9).fill(Math.fround(1 / (b * 21)))]);
    }
    const sum = (rows: number[][]) => rows.flat().reduce((a, x) => a + x, 0);
    expect(sum(w!.slice(0, b))).toBeCloseTo(1, 5);
    expect(sum(w!.slice(b))).toBeCloseTo(1, 5);
    tf.dispose([r, s]);
  });
});
