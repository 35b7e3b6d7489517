// The config: the reference's defaults, the fashion-mnist preset, and one-line refusals naming the
// fields (schema and create()).
import { initBackend, numPatches, Rng, vitConfigForImages } from '@maskedssl/core/node';
import { describe, expect, it } from 'vitest';
import { moca, mocaPresets, parseMocaConfig } from '../src/index.js';

await initBackend({ log: null });

describe('config', () => {
  it("defaults are the reference's where they transfer", () => {
    const c = parseMocaConfig({});
    expect(c).toMatchObject({
      backbone: 'vit-tiny/4',
      kappa: 3,
      invDelta: 10,
      distNormDecay: 0.99,
      numWords: 4096,
      numNewWords: 32,
      skipOffset: 2,
      earlyLayer: 4,
      maskRatios: [0.55, 0.75],
      decoderMaskRatios: [0.35, 0.55],
      decoderDepth: 2,
      predMlpRatio: 2,
      momentum: 0.994,
      momentumEnd: 1,
      lrWgen: 1e-4,
      weightDecayWgen: 0.05,
      imageWeight: 0.5,
      tokenWeight: 0.5,
    });
    expect(moca.configSchema.parse({})).toEqual(c);
  });

  it('the fashion-mnist preset is valid for 28x28x1 images at 49 tokens', () => {
    const c = parseMocaConfig(moca.presets['fashion-mnist']);
    const vit = vitConfigForImages(c.backbone, c.backboneOverrides, [28, 28, 1], 'test');
    expect([vit.imageSize, vit.patchSize, vit.inChannels, vit.embedDim, vit.depth, numPatches(vit)]).toEqual([28, 4, 1, 64, 4, 49]);
    expect(c.numWords % c.numNewWords).toBe(0);
    expect(c).toMatchObject({ numWords: 256, numNewWords: 32, skipOffset: 1, earlyLayer: 2, distNormDecay: 0.9, momentum: 0.98, lrWgen: 1e-3 });
    expect(mocaPresets['fashion-mnist']).toBe(moca.presets['fashion-mnist']);
  });

  it('refuses impossible combinations in one line naming the fields', () => {
    const refuse = (input: Record<string, unknown>, pattern: RegExp) => {
      let message = '';
      try {
        parseMocaConfig(input);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(pattern);
      expect(message).not.toContain('\n');
    };
    refuse({ numWords: 1000 }, /^invalid moca config: numWords: numWords 1000 is not a multiple of numNewWords 32/);
    refuse({ skipOffset: 0 }, /skipOffset: skipOffset must be >= 1/);
    refuse({ earlyLayer: 6 }, /earlyLayer: earlyLayer 6 must be < the backbone depth 6/);
    refuse({ decoderMaskRatios: [0.6, 0.55] }, /decoderMaskRatios\[0\]: decoderMaskRatios\[0\] 0.6 must be below maskRatios\[0\] 0.55/);
    refuse({ decoderEmbedDim: 30, decoderNumHeads: 4 }, /decoderNumHeads: .*; decoderEmbedDim: decoderEmbedDim 30 must be divisible by 4/);
    refuse({ backboneOverrides: { numHeads: 5 } }, /backboneOverrides\.numHeads: embedDim 192 is not divisible by numHeads 5/);
    refuse({ momentum: 0.99, momentumEnd: 0.9 }, /momentumEnd: momentumEnd 0.9 is below momentum 0.99/);
    refuse({ backbone: 'vit-huge' }, /backbone: /);
    refuse({ numWord: 10 }, /Unrecognized key.*numWord/);
    // Several problems: every field named, on one line.
    refuse({ numWords: 100, skipOffset: 0, earlyLayer: 9 }, /numWords: .*; skipOffset: .*; earlyLayer: /);
  });

  it('create() refuses a batch smaller than numNewWords, and geometry the token grid of the images cannot hold', () => {
    const c = parseMocaConfig(moca.presets['fashion-mnist']);
    const ctx = { imageShape: [28, 28, 1] as [number, number, number], batchSize: 16, rng: new Rng(0) };
    expect(() => moca.create(c, ctx)).toThrow(/^moca: numNewWords 32 exceeds the batch size 16/);
    const at28 = { ...ctx, batchSize: 64 };
    expect(() => moca.create(parseMocaConfig({ skipOffset: 4 }), at28)).toThrow(/^moca: skipOffset: skipOffset 4 leaves no interior token on the 7x7 grid/);
    expect(() => moca.create(parseMocaConfig({ maskCounts: { visible1: 22, masked: 9, visible2: 20 } }), at28)).toThrow(
      /^moca: maskCounts: visible1 \+ visible2 \+ masked = 22 \+ 20 \+ 9 = 51 exceeds the 49 tokens/,
    );
    expect(() => moca.create(parseMocaConfig({ maskRatios: [0.3, 0.5], decoderMaskRatios: [0.1, 0.2] }), at28)).toThrow(
      /^moca: maskRatios: visible1 \+ visible2 \+ masked = 34 \+ 24 \+ 10 = 68 exceeds the 49 tokens/,
    );
    // The same config fits larger images: the grid is the data's (32x32 RGB: 8x8 tokens).
    moca.create(parseMocaConfig({ ...moca.presets['fashion-mnist'] }), { ...ctx, imageShape: [32, 32, 3], batchSize: 32 }).dispose();
  });
});
