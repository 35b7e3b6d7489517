import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { countParams } from '../src/nn/params.js';
import { parseVitConfig, vitConfig, vitConfigForImages } from '../src/vit/config.js';
import { patchify, unpatchify } from '../src/vit/patchify.js';
import { sinCos2dPosEmbed } from '../src/vit/pos-embed.js';
import { segmentBias } from '../src/nn/attention.js';
import { createVit, embedPatches, segmentPatchTokens, vitForward, vitFeatures } from '../src/vit/vit.js';
import { Rng } from '../src/util/rng.js';
import { maxRelDiff, useBackend } from './helpers.js';

await useBackend();

const arr = (t: tf.Tensor) => Array.from(t.dataSync());

const small = () => parseVitConfig({ imageSize: 8, patchSize: 2, inChannels: 2, embedDim: 16, depth: 2, numHeads: 2 });

function images(seed: number, b: number, size: number, c: number): tf.Tensor4D {
  return tf.tensor4d(new Rng(seed).uniformArray(b * size * size * c), [b, size, size, c]);
}

describe('patchify', () => {
  it('orders a patch as (row, column, channel) and tokens row-major; unpatchify inverts it', () => {
    // 4x4 image, 1 channel, values 0..15; patch 2 -> 4 tokens of 4 values.
    const img = tf.tensor4d(Array.from({ length: 16 }, (_, i) => i), [1, 4, 4, 1]);
    const p = patchify(img, 2);
    expect(p.shape).toEqual([1, 4, 4]);
    expect(Array.from(p.dataSync())).toEqual([0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15]);
    const x = images(1, 2, 8, 3);
    expect(Array.from(unpatchify(patchify(x, 4), 4, 2, 2).dataSync())).toEqual(Array.from(x.dataSync()));
  });

  it('the patch embedding equals a stride-p convolution', () => {
    const c = small();
    const vit = createVit(c, new Rng(0));
    const x = images(2, 3, 8, 2);
    const ours = embedPatches(c, vit.params, x);
    const kernel = tf.reshape(vit.params['patch_embed.proj.weight']!, [2, 2, 2, 16]) as tf.Tensor4D;
    const conv = tf.add(tf.conv2d(x, kernel, 2, 'valid'), vit.params['patch_embed.proj.bias']!);
    expect(maxRelDiff(ours.dataSync(), tf.reshape(conv, [3, 16, 16]).dataSync())).toBeLessThan(1e-5);
  });
});

describe('sin-cos position embedding', () => {
  it('matches hand-computed values', () => {
    // dim 8, 2x2 grid, class token row first. omega = [1, 1/100] for the two frequencies of each half.
    const pe = sinCos2dPosEmbed(8, 2, 2, true);
    expect(Array.from(pe.slice(0, 8))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    // token (row 1, col 0) is flat index 2 -> row 3 of the table: first half encodes column 0, second row 1.
    const row = Array.from(pe.slice(3 * 8, 4 * 8));
    const expected = [0, 0, 1, 1, Math.sin(1), Math.sin(0.01), Math.cos(1), Math.cos(0.01)];
    expected.forEach((e, i) => expect(row[i]).toBeCloseTo(e, 6));
    // token (row 0, col 1): first half encodes column 1, second half row 0.
    const row2 = Array.from(pe.slice(2 * 8, 3 * 8));
    [Math.sin(1), Math.sin(0.01), Math.cos(1), Math.cos(0.01), 0, 0, 1, 1].forEach((e, i) => expect(row2[i]).toBeCloseTo(e, 6));
  });
});

describe('config', () => {
  it('presets have the documented sizes', () => {
    const tiny = createVit(vitConfig('vit-tiny/4'), new Rng(0));
    const trainable = Object.values(tiny.params).filter((v) => v.trainable);
    // per block: 2 norms 2*384 + qkv 192*576+576 + proj 192*192+192 + fc1 192*768+768 + fc2 768*192+192
    // = 444,864; x6 + patch embed 16*192+192 + cls 192 + final norm 384 = 2,673,024.
    expect(countParams(Object.fromEntries(trainable.map((v, i) => [i, v])))).toBe(2_673_024);
    // vit-micro/4: per block 2*128 + (64*192+192) + (64*64+64) + (64*256+256) + (256*64+64) = 49,984;
    // x4 + patch embed 16*64+64 + cls 64 + final norm 128 = 201,216.
    const micro = createVit(vitConfig('vit-micro/4'), new Rng(0));
    expect(countParams(Object.fromEntries(Object.values(micro.params).filter((v) => v.trainable).map((v, i) => [i, v])))).toBe(201_216);
    Object.values(micro.params).forEach((v) => v.dispose());
    expect(vitConfig('vit-tiny/4', { imageSize: 32, inChannels: 3 }).imageSize).toBe(32);
    expect(vitConfig('vit-base/16').embedDim).toBe(768);
    Object.values(tiny.params).forEach((v) => v.dispose());
  });

  it('shapes a preset to the training images, refusing non-square ones', () => {
    const c = vitConfigForImages('vit-tiny/4', { depth: 2 }, [32, 32, 3], 'm');
    expect([c.imageSize, c.inChannels, c.depth, c.embedDim]).toEqual([32, 3, 2, 192]);
    expect(() => vitConfigForImages('vit-tiny/4', {}, [28, 32, 1], 'mymethod')).toThrow(/^mymethod: images must be square, got 28x32$/);
    expect(() => vitConfigForImages('vit-tiny/4', {}, [30, 30, 1], 'm')).toThrow(/patchSize: imageSize 30 is not divisible by patchSize 4/);
  });

  it('names the bad fields', () => {
    expect(() => parseVitConfig({ imageSize: 28, patchSize: 5, embedDim: 190, depth: 2, numHeads: 3 })).toThrow(
      /patchSize: imageSize 28 is not divisible by patchSize 5.*numHeads: embedDim 190 is not divisible by numHeads 3/,
    );
    expect(() => parseVitConfig({ imageSize: 28, patchSize: 4, embedDim: 192, depth: 2, numHeads: 3, dropout: 0.1 })).toThrow(/dropout/);
  });
});

describe('forward variants', () => {
  const c = small();
  const vit = createVit(c, new Rng(1));
  const x = images(3, 2, 8, 2);

  it('returns [B, 1 + N, D] tokens and block outputs; the last block output, normalised, is the tokens', () => {
    const out = vitForward(c, vit.params, x, { collect: [0, 1] });
    expect(out.tokens.shape).toEqual([2, 17, 16]);
    expect(out.intermediates.map((t) => t.shape)).toEqual([[2, 17, 16], [2, 17, 16]]);
    const { mean, variance } = tf.moments(out.tokens, -1);
    expect(Math.max(...Array.from(tf.abs(mean).dataSync()))).toBeLessThan(1e-5);
    expect(Math.abs(tf.mean(variance).dataSync()[0]! - 1)).toBeLessThan(1e-3);
  });

  it('keeping every token in order equals the full forward; a permutation permutes the output', () => {
    const full = vitForward(c, vit.params, x).tokens;
    const all = tf.tensor2d([Array.from({ length: 16 }, (_, i) => i), Array.from({ length: 16 }, (_, i) => i)], undefined, 'int32');
    expect(maxRelDiff(vitForward(c, vit.params, x, { keep: all }).tokens.dataSync(), full.dataSync())).toBeLessThan(1e-5);
    const perm = Array.from(new Rng(9).permutation(16));
    const kept = vitForward(c, vit.params, x, { keep: tf.tensor2d([perm, perm], undefined, 'int32') }).tokens;
    const expected = tf.gather(full, [0, ...perm.map((p) => p + 1)], 1);
    expect(maxRelDiff(kept.dataSync(), expected.dataSync())).toBeLessThan(1e-5);
  });

  it('dropped tokens take no part: changing their pixels changes nothing, changing a kept one does', () => {
    // keep patches 0, 5, 10 (of the 4x4 grid); patch 3 (top-right 2x2 pixels) is dropped.
    const keep = tf.tensor2d([[0, 5, 10], [0, 5, 10]], undefined, 'int32');
    const base = vitForward(c, vit.params, x, { keep }).tokens;
    const bump = (row: number, col: number) => {
      const v = x.arraySync();
      v[0]![row]![col]![0] = v[0]![row]![col]![0]! + 5;
      return tf.tensor4d(v);
    };
    const droppedChanged = vitForward(c, vit.params, bump(0, 7), { keep }).tokens; // pixel in patch 3
    expect(maxRelDiff(droppedChanged.dataSync(), base.dataSync())).toBe(0);
    const keptChanged = vitForward(c, vit.params, bump(0, 0), { keep }).tokens; // pixel in patch 0
    expect(maxRelDiff(keptChanged.dataSync(), base.dataSync())).toBeGreaterThan(1e-3);
  });

  it('a mask token replaces masked patches (their pixels no longer matter); an empty mask is the full forward', () => {
    const token = tf.tensor(new Rng(4).normalArray(16, 0, 0.02));
    const none = tf.zeros([2, 16]) as tf.Tensor2D;
    const full = vitForward(c, vit.params, x).tokens;
    expect(maxRelDiff(vitForward(c, vit.params, x, { mask: none, maskToken: token }).tokens.dataSync(), full.dataSync())).toBeLessThan(1e-6);
    const m = new Float32Array(32);
    m[3] = 1;
    m[16 + 3] = 1;
    const mask = tf.tensor2d(m, [2, 16]);
    const masked = vitForward(c, vit.params, x, { mask, maskToken: token }).tokens;
    expect(masked.shape).toEqual([2, 17, 16]);
    expect(maxRelDiff(masked.dataSync(), full.dataSync())).toBeGreaterThan(1e-3);
    const v = x.arraySync();
    v[1]![1]![7]![1] = 100; // inside patch 3 of image 1
    const again = vitForward(c, vit.params, tf.tensor4d(v), { mask, maskToken: token }).tokens;
    expect(maxRelDiff(again.dataSync(), masked.dataSync())).toBe(0);
    expect(() => vitForward(c, vit.params, x, { mask })).toThrow(/needs `maskToken`/);
  });

  it('features: mean of patch tokens, or the class token', () => {
    const out = vitForward(c, vit.params, x).tokens;
    const avg = vitFeatures(c, out, 'avg');
    const cls = vitFeatures(c, out, 'cls');
    expect(avg.shape).toEqual([2, 16]);
    expect(maxRelDiff(cls.dataSync(), tf.slice(out, [0, 0, 0], [2, 1, 16]).dataSync())).toBe(0);
    expect(maxRelDiff(avg.dataSync(), tf.mean(tf.slice(out, [0, 1, 0], [2, 16, 16]), 1).dataSync())).toBeLessThan(1e-6);
  });

  it('rejects images of the wrong shape with the expected one', () => {
    expect(() => vitForward(c, vit.params, images(0, 1, 8, 3))).toThrow(/expects images \[B, 8, 8, 2\], got \[1,8,8,3\]/);
  });
});

describe('several kept sets in one row (segments)', () => {
  it('segmentBias: 0 inside a segment, -1e9 across', () => {
    const h = -1e9;
    expect(arr(segmentBias([2, 1]))).toEqual([0, 0, h, 0, 0, h, h, h, 0]);
    expect(segmentBias([2, 1]).shape).toEqual([1, 1, 3, 3]);
    expect(() => segmentBias([2, 0])).toThrow(/positive integers, got \[2, 0\]/);
  });

  it('each segment gets the outputs and gradients it has alone (class token, final and collected tokens)', () => {
    const c = small();
    const vit = createVit(c, new Rng(3));
    const x = images(4, 2, 8, 2);
    const keep = tf.tensor2d([[0, 5, 9, 14, 2], [3, 7, 1, 11, 6]], [2, 5], 'int32');
    const segments = [3, 2];
    const parts = [tf.slice(keep, [0, 0], [-1, 3]), tf.slice(keep, [0, 3], [-1, 2])] as tf.Tensor2D[];
    const packed = vitForward(c, vit.params, x, { keep, segments, collect: [0] });
    expect(packed.tokens.shape).toEqual([2, 7, 16]);
    const alone = parts.map((k) => vitForward(c, vit.params, x, { keep: k, collect: [0] }));
    // [cls, s1 (3), cls, s2 (2)]: each segment with its class token equals its own run.
    const starts = [0, 4];
    alone.forEach((a, r) => {
      for (const [p, s] of [[packed.tokens, a.tokens], [packed.intermediates[0]!, a.intermediates[0]!]] as const) {
        expect(maxRelDiff(tf.slice(p, [0, starts[r]!, 0], [-1, 1 + segments[r]!, -1]).dataSync(), s.dataSync())).toBeLessThan(1e-5);
      }
    });
    const split = segmentPatchTokens(c, packed.tokens, segments);
    split.forEach((t, r) => expect(maxRelDiff(t.dataSync(), tf.slice(alone[r]!.tokens, [0, 1, 0], [-1, -1, -1]).dataSync())).toBeLessThan(1e-5));
    // One segment of all five differs: the segments really are kept apart.
    const joined = vitForward(c, vit.params, x, { keep }).tokens;
    expect(maxRelDiff(tf.slice(joined, [0, 1, 0], [-1, 3, -1]).dataSync(), split[0]!.dataSync())).toBeGreaterThan(1e-3);
    // Gradients of a weighted sum of all tokens w.r.t. an attention weight, the class token and the
    // images are the sums of the segments' own.
    const w = [tf.tensor3d(new Rng(5).normalArray(2 * 4 * 16), [2, 4, 16]), tf.tensor3d(new Rng(6).normalArray(2 * 3 * 16), [2, 3, 16])];
    const withParams = (q: tf.Tensor, cls: tf.Tensor) => ({ ...vit.params, 'blocks.0.attn.qkv.weight': q, cls_token: cls });
    const qkv = vit.params['blocks.0.attn.qkv.weight']!;
    const cls = vit.params.cls_token!;
    const lossPacked = (q: tf.Tensor, k: tf.Tensor, img: tf.Tensor) => {
      const t = vitForward(c, withParams(q, k), img as tf.Tensor4D, { keep, segments }).tokens;
      return tf.add(tf.sum(tf.mul(tf.slice(t, [0, 0, 0], [-1, 4, -1]), w[0]!)), tf.sum(tf.mul(tf.slice(t, [0, 4, 0], [-1, 3, -1]), w[1]!)));
    };
    const lossAlone = (q: tf.Tensor, k: tf.Tensor, img: tf.Tensor) =>
      tf.addN(parts.map((part, r) => tf.sum(tf.mul(vitForward(c, withParams(q, k), img as tf.Tensor4D, { keep: part }).tokens, w[r]!))));
    const got = tf.grads(lossPacked)([qkv, cls, x]);
    const want = tf.grads(lossAlone)([qkv, cls, x]);
    got.forEach((g, i) => expect(maxRelDiff(g.dataSync(), want[i]!.dataSync())).toBeLessThan(1e-4));
    expect(() => vitForward(c, vit.params, x, { keep, segments: [3, 3] })).toThrow(/segments \[3, 3\] must be positive integers summing to the 5 patch tokens/);
    expect(() => segmentPatchTokens(c, packed.tokens, [3, 3])).toThrow(/need 8 tokens per row, got 7/);
  });
});
