// The two complementary masking rounds at 49 tokens: sizes from the reference's ratios, disjoint
// visible sets, one shared masked set, and the decoders' scored positions.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, Rng } from '@maskedssl/core/node';
import { describe, expect, it } from 'vitest';
import { maskingRounds, maskSizes, mocaPresets, parseMocaConfig } from '../src/index.js';

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

  it('disjoint visible sets, one shared masked set, exact sizes; one packed row per image; token weights that sum to 1 per round', () => {
    const b = 16;
    const r = maskingRounds(new Rng(9), b, 49, { visible1: 22, masked: 9, visible2: 12 });
    expect(r.visible[0].shape).toEqual([b, 22]);
    expect(r.visible[1].shape).toEqual([b, 12]);
    expect(r.masked.shape).toEqual([b, 9]);
    expect(r.keep.shape).toEqual([b, 34]);
    expect(r.segments).toEqual([22, 12]);
    expect(r.scored.shape).toEqual([b, 31 + 21]);
    expect(r.tokenWeights.shape).toEqual([b, 31 + 21]);
    const [v1, v2, m, keep, scored, w] = [r.visible[0], r.visible[1], r.masked, r.keep, r.scored, r.tokenWeights].map((t) => t.arraySync() as number[][]) as number[][][];
    const distinctRows = new Set<string>();
    for (let i = 0; i < b; i++) {
      const all = [...v1![i]!, ...v2![i]!, ...m![i]!];
      expect(new Set(all).size).toBe(43); // V1, V2 and M pairwise disjoint
      expect(all.every((p) => p >= 0 && p < 49)).toBe(true);
      expect(keep![i]).toEqual([...v1![i]!, ...v2![i]!]);
      // Round 1's decoder scores V1 then M, round 2's V2 then M.
      expect(scored![i]).toEqual([...v1![i]!, ...m![i]!, ...v2![i]!, ...m![i]!]);
      expect(w![i]).toEqual([...Array(31).fill(Math.fround(1 / (b * 31))), ...Array(21).fill(Math.fround(1 / (b * 21)))]);
      distinctRows.add(m![i]!.join());
    }
    expect(distinctRows.size).toBeGreaterThan(1); // each image draws its own permutation
    const sum = (rows: number[][], from: number, to: number) => rows.reduce((a, row) => a + row.slice(from, to).reduce((x, y) => x + y, 0), 0);
    expect(sum(w!, 0, 31)).toBeCloseTo(1, 5);
    expect(sum(w!, 31, 52)).toBeCloseTo(1, 5);
    tf.dispose(r);
  });
});
