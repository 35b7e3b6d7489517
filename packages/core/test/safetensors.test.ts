// safetensors I/O: round trips, a hand-built file, every kind of corruption (errors name the file and the
// fault), and atomic writes (an existing file survives a failed write; no temporary files are left).
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  decodeSafetensors,
  encodeSafetensors,
  safetensorsToTensors,
  tensorsToSafetensors,
  type SafetensorsTensor,
} from '../src/io/safetensors.js';
import { readSafetensorsFile, writeSafetensorsFile } from '../src/node/safetensors-files.js';
import { useBackend } from './helpers.js';

// Lets a test make the final rename of an atomic write fail, after the temporary file is written.
const inject = vi.hoisted(() => ({ failRename: false }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...fs,
    rename: async (from: string, to: string) => {
      if (inject.failRename) throw new Error('injected rename failure');
      return fs.rename(from, to);
    },
  };
});

let dir = '';
beforeAll(async () => {
  await useBackend();
  dir = await mkdtemp(join(tmpdir(), 'maskedssl-safetensors-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A file from a header (object or raw JSON text) and data bytes, built by hand. */
function build(header: object | string, data: number[] | Uint8Array = [], declaredLength?: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(declaredLength ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors encode/decode', () => {
  it('round-trips every dtype, metadata, empty and scalar tensors', () => {
    const tensors: Record<string, SafetensorsTensor> = {
      f32: { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, -2.5, 3e-8, 1e30, -0, 7]) },
      f64: { dtype: 'F64', shape: [2], data: new Float64Array([Math.PI, -1e-300]) },
      f16: { dtype: 'F16', shape: [4], data: new Float32Array([1, -2, 0.5, 65504]) },
      bf16: { dtype: 'BF16', shape: [2], data: new Float32Array([1, -3.5]) },
      i64: { dtype: 'I64', shape: [3], data: new BigInt64Array([-(2n ** 62n), 0n, 5n]) },
      i32: { dtype: 'I32', shape: [2, 1], data: new Int32Array([-7, 2 ** 31 - 1]) },
      i16: { dtype: 'I16', shape: [1], data: new Int16Array([-300]) },
      i8: { dtype: 'I8', shape: [2], data: new Int8Array([-128, 127]) },
      u8: { dtype: 'U8', shape: [3], data: new Uint8Array([0, 128, 255]) },
      bool: { dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) },
      empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
      scalar: { dtype: 'F32', shape: [], data: new Float32Array([42]) },
    };
    const bytes = encodeSafetensors(tensors, { format: 'pt', note: 'ünïcode' });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const decoded = decodeSafetensors(bytes, 'x.safetensors');
    expect(decoded.metadata).toEqual({ format: 'pt', note: 'ünïcode' });
    expect(Object.keys(decoded.tensors).sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const d = decoded.tensors[name]!;
      expect(d.dtype, name).toBe(t.dtype);
      expect(d.shape, name).toEqual(t.shape);
      expect(Array.from(d.data as ArrayLike<number>), name).toEqual(Array.from(t.data as ArrayLike<number>));
    }
    // Deterministic: the same input gives the same bytes, whatever the key order.
    const reversed = Object.fromEntries(Object.entries(tensors).reverse());
    expect(Buffer.from(encodeSafetensors(reversed, { format: 'pt', note: 'ünïcode' })).equals(Buffer.from(bytes))).toBe(true);
  });

  it('writes the header as the reference does: sorted by element size then name, space-padded to 8', () => {
    const bytes = encodeSafetensors({
      b: { dtype: 'I32', shape: [1], data: new Int32Array([7]) },
      a: { dtype: 'F32', shape: [2], data: new Float32Array([1.5, -2]) },
      c: { dtype: 'F16', shape: [1], data: new Float32Array([1]) },
      d: { dtype: 'I64', shape: [1], data: new BigInt64Array([1n]) },
    });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    const body =
      '{"d":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},' +
      '"b":{"dtype":"I32","shape":[1],"data_offsets":[16,20]},"c":{"dtype":"F16","shape":[1],"data_offsets":[20,22]}}';
    expect(header).toBe(body + ' '.repeat((8 - (body.length % 8)) % 8));
    expect(bytes.length).toBe(8 + n + 22);
  });

  it('rounds to half precision to nearest even, with subnormals and overflow', () => {
    const values = [1 + 2 ** -11, 1 + 3 * 2 ** -11, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 65520, -1e6, NaN, -Infinity, 2 ** -14];
    const t = decodeSafetensors(encodeSafetensors({ h: { dtype: 'F16', shape: [values.length], data: new Float32Array(values) } }));
    expect(Array.from(t.tensors.h!.data as Float32Array)).toEqual([1, 1 + 2 ** -9, 2 ** -24, 0, 2 ** -24, Infinity, -Infinity, NaN, -Infinity, 2 ** -14]);
  });

  it('decodes a hand-built file', () => {
    const header = {
      __metadata__: { format: 'pt' },
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'I32', shape: [1, 1], data_offsets: [8, 12] },
      h: { dtype: 'F16', shape: [2], data_offsets: [12, 16] },
      l: { dtype: 'I64', shape: [1], data_offsets: [16, 24] },
      u: { dtype: 'U8', shape: [1], data_offsets: [24, 25] },
    };
    const data = new Uint8Array(25);
    const v = new DataView(data.buffer);
    v.setFloat32(0, 1.5, true);
    v.setFloat32(4, -2, true);
    v.setInt32(8, 7, true);
    v.setUint16(12, 0x3c00, true); // 1.0
    v.setUint16(14, 0xc100, true); // -2.5
    v.setBigInt64(16, -3n, true);
    v.setUint8(24, 255);
    const { tensors, metadata } = decodeSafetensors(build(header, data), 'hand.safetensors');
    expect(metadata).toEqual({ format: 'pt' });
    expect(tensors.a).toEqual({ dtype: 'F32', shape: [2], data: new Float32Array([1.5, -2]) });
    expect(tensors.b).toEqual({ dtype: 'I32', shape: [1, 1], data: new Int32Array([7]) });
    expect(tensors.h).toEqual({ dtype: 'F16', shape: [2], data: new Float32Array([1, -2.5]) });
    expect(tensors.l).toEqual({ dtype: 'I64', shape: [1], data: new BigInt64Array([-3n]) });
    expect(tensors.u).toEqual({ dtype: 'U8', shape: [1], data: new Uint8Array([255]) });

    const tf32 = safetensorsToTensors({ tensors, metadata });
    expect(tf32.l!.dtype).toBe('int32');
    expect(Array.from(tf32.l!.dataSync())).toEqual([-3]);
    expect(tf32.h!.dtype).toBe('float32');
    expect(tf32.u!.dtype).toBe('int32');
    Object.values(tf32).forEach((t) => t.dispose());
  });

  const F32x2 = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
  const corruptions: [string, Uint8Array, RegExp][] = [
    ['a file shorter than the length field', new Uint8Array(5), /too short for the 8-byte header length/],
    ['a header length beyond the file', build({ a: F32x2 }, new Uint8Array(8), 10_000), /header length 10000 goes beyond the end of the file/],
    ['a header that is not JSON', build('{"a": {"dtype": "F32",', new Uint8Array(8)), /header is not valid UTF-8 JSON/],
    ['a header that is not an object', build('[1, 2]'), /header is not a JSON object/],
    ['a non-string metadata value', build({ __metadata__: { epoch: 3 } }), /'__metadata__\.epoch' is not a string/],
    ['an unknown dtype', build({ a: { ...F32x2, dtype: 'Q7' } }, new Uint8Array(8)), /tensor 'a': unknown dtype "Q7"/],
    ['a bad shape', build({ a: { ...F32x2, shape: [2, -1] } }, new Uint8Array(8)), /tensor 'a': 'shape' \[2,-1\] is not a list/],
    ['missing data_offsets', build({ a: { dtype: 'F32', shape: [2] } }, new Uint8Array(8)), /tensor 'a': 'data_offsets' undefined/],
    ['an unexpected field', build({ a: { ...F32x2, dtype2: 'x' } }, new Uint8Array(8)), /tensor 'a': unexpected field\(s\) dtype2/],
    ['offsets out of range', build({ a: { ...F32x2, data_offsets: [0, 12] } }, new Uint8Array(8)), /tensor 'a': 'data_offsets' \[0, 12\] are out of range/],
    ['offsets ending before they begin', build({ a: { ...F32x2, data_offsets: [8, 0] } }, new Uint8Array(8)), /tensor 'a': 'data_offsets' \[8, 0\] end before/],
    [
      'offsets not matching shape * dtype size',
      build({ a: { ...F32x2, shape: [3] } }, new Uint8Array(8)),
      /tensor 'a': 'data_offsets' \[0, 8\] span 8 bytes but F32 \[3\] needs 12/,
    ],
    [
      'overlapping tensors',
      build({ a: F32x2, b: { dtype: 'I32', shape: [2], data_offsets: [4, 12] } }, new Uint8Array(12)),
      /tensor 'b' \(bytes 4\.\.12\) overlaps tensor 'a'/,
    ],
    [
      'a gap between tensors',
      build({ a: F32x2, b: { dtype: 'U8', shape: [1], data_offsets: [10, 11] } }, new Uint8Array(11)),
      /bytes 8\.\.10 of the data section belong to no tensor \(before tensor 'b'\)/,
    ],
    ['trailing garbage', build({ a: F32x2 }, new Uint8Array(11)), /3 trailing byte\(s\) after the last tensor/],
  ];
  it.each(corruptions)('rejects %s, naming the file and the fault', (_what, bytes, message) => {
    expect(() => decodeSafetensors(bytes, 'bad.safetensors')).toThrow(message);
    expect(() => decodeSafetensors(bytes, 'bad.safetensors')).toThrow(/^bad\.safetensors: /);
  });

  it('refuses to encode inconsistent tensors, naming them', () => {
    expect(() => encodeSafetensors({ w: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(/'w': shape \[3\] needs 3 values, got 2/);
    expect(() => encodeSafetensors({ w: { dtype: 'I32', shape: [2], data: new Float32Array(2) } })).toThrow(/'w': dtype I32 needs a Int32Array/);
  });

  it('converts tf tensors both ways (I64 out of int32 range is an error)', async () => {
    const bytes = await tensorsToSafetensors(
      { w: tf.tensor2d([[1, 2], [3, 4]]), i: tf.tensor1d([5, -6], 'int32'), m: tf.tensor1d([true, false], 'bool') },
      { step: '10' },
    );
    const decoded = decodeSafetensors(bytes);
    expect(decoded.metadata).toEqual({ step: '10' });
    expect(decoded.tensors.w!.dtype).toBe('F32');
    const back = safetensorsToTensors(decoded);
    expect(back.w!.shape).toEqual([2, 2]);
    expect(Array.from(await back.w!.data())).toEqual([1, 2, 3, 4]);
    expect(Array.from(await back.i!.data())).toEqual([5, -6]);
    expect(back.m!.dtype).toBe('bool');
    expect(Array.from(await back.m!.data())).toEqual([1, 0]);
    const big = decodeSafetensors(encodeSafetensors({ n: { dtype: 'I64', shape: [1], data: new BigInt64Array([2n ** 40n]) } }), 'big.safetensors');
    expect(() => safetensorsToTensors(big, 'big.safetensors')).toThrow(/big\.safetensors: tensor 'n': I64 value 1099511627776 .* does not fit in int32/);
  });
});

describe('safetensors files', () => {
  const tensors = { w: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } } satisfies Record<string, SafetensorsTensor>;

  it('writes and reads back a file, leaving no temporary file behind', async () => {
    const path = join(dir, 'ok.safetensors');
    await writeSafetensorsFile(path, tensors, { a: 'b' });
    await writeSafetensorsFile(path, tensors, { a: 'c' }); // overwrite
    expect(await readdir(dir)).toEqual(['ok.safetensors']);
    const back = await readSafetensorsFile(path);
    expect(back.metadata).toEqual({ a: 'c' });
    expect(Array.from(back.tensors.w!.data as Float32Array)).toEqual([1, 2]);
  });

  it('reading a corrupt file names its path', async () => {
    const path = join(dir, 'corrupt.safetensors');
    await writeFile(path, build({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(9)));
    await expect(readSafetensorsFile(path)).rejects.toThrow(`${path}: 1 trailing byte(s)`);
    await rm(path);
  });

  it('keeps an existing file intact when the write fails midway, and cleans up', async () => {
    const path = join(dir, 'keep.safetensors');
    await writeSafetensorsFile(path, tensors);
    const before = await readFile(path);

    // Encoding fails: nothing is touched.
    const bad = { w: { dtype: 'F32', shape: [5], data: new Float32Array(2) } } satisfies Record<string, SafetensorsTensor>;
    await expect(writeSafetensorsFile(path, bad)).rejects.toThrow(/'w': shape \[5\] needs 5 values/);
    // The temporary file is written and synced, then the rename fails.
    inject.failRename = true;
    try {
      await expect(writeSafetensorsFile(path, { w: { dtype: 'F32', shape: [1], data: new Float32Array([9]) } })).rejects.toThrow(
        `writing ${path}: injected rename failure`,
      );
    } finally {
      inject.failRename = false;
    }
    // The target is a folder that does not exist: the temporary file cannot even be created.
    await expect(writeSafetensorsFile(join(dir, 'nope', 'x.safetensors'), tensors)).rejects.toThrow(/writing .*nope.*ENOENT/);

    expect(Buffer.from(await readFile(path)).equals(before)).toBe(true);
    expect((await readdir(dir)).sort()).toEqual(['keep.safetensors', 'ok.safetensors']);
  });
});
