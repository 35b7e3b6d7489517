// pasteMaskedPatches by hand: a 4x4 image of 2x2 patches, two of four masked.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { pasteMaskedPatches } from '../src/masking/reconstruction.js';
import { useBackend } from './helpers.js';

await useBackend();

describe('pasteMaskedPatches', () => {
  it('keeps visible patches, pastes predicted ones where masked, clips to [0, 1]', async () => {
    const image = tf.tensor4d(Array.from({ length: 16 }, (_, i) => i / 16), [1, 4, 4, 1]);
    // Patches in token order (row-major grid), each 2x2 = 4 values: predictions 2 everywhere (clipped to 1)
    // and -1 (clipped to 0).
    const predicted = tf.tensor3d([[[2, 2, 2, 2], [-1, -1, -1, -1], [0.5, 0.5, 0.5, 0.5], [0.25, 0.25, 0.25, 0.25]]]);
    const mask = tf.tensor2d([[1, 0, 0, 1]]); // tokens 0 and 3 masked
    const out = Array.from(await pasteMaskedPatches(image, predicted, mask, 2).data());
    const at = (y: number, x: number) => out[y * 4 + x];
    expect([at(0, 0), at(0, 1), at(1, 0), at(1, 1)]).toEqual([1, 1, 1, 1]); // token 0: predicted 2, clipped
    expect([at(0, 2), at(0, 3), at(1, 2), at(1, 3)].map((v) => v! * 16)).toEqual([2, 3, 6, 7].map((v) => expect.closeTo(v, 5))); // token 1 visible
    expect([at(2, 0), at(2, 1), at(3, 0), at(3, 1)].map((v) => v! * 16)).toEqual([8, 9, 12, 13].map((v) => expect.closeTo(v, 5))); // token 2 visible
    expect([at(2, 2), at(2, 3), at(3, 2), at(3, 3)]).toEqual([0.25, 0.25, 0.25, 0.25]); // token 3 predicted
    expect(() => pasteMaskedPatches(image, tf.zeros([1, 4, 3]) as tf.Tensor3D, mask, 2)).toThrow(/predicted \[1,4,3\] for patches \[1,4,4\]/);
  });
});
