// The safetensors file format (https://github.com/huggingface/safetensors), read and written without
// dependencies: an 8-byte little-endian header length N, N bytes of JSON header
//   {"__metadata__": {string: string}, "<name>": {"dtype", "shape", "data_offsets": [begin, end]}, ...}
// padded with spaces to a multiple of 8, then the tensors' raw little-endian bytes, packed contiguously,
// offsets relative to the start of the data. Decoding validates everything and every error names the
// file (`source`) and the tensor or field at fault.
//
// Decoded values: F64 -> Float64Array; F32, F16 and BF16 -> Float32Array (half floats are widened);
// I64 -> BigInt64Array (lossless; `safetensorsToTensors` narrows it to int32 and fails on values outside
// the int32 range); I32 -> Int32Array; I16 -> Int16Array; I8 -> Int8Array; U8 and BOOL -> Uint8Array.
import * as tf from '@tensorflow/tfjs-core';

const ELEMENT_BYTES = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 } as const;
export type SafetensorsDtype = keyof typeof ELEMENT_BYTES;
export const SAFETENSORS_DTYPES = Object.keys(ELEMENT_BYTES) as SafetensorsDtype[];

export type TensorArray = Float64Array | Float32Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

/**
 * One tensor. For encoding, `data` must be the array type its dtype decodes to (see the file header);
 * F16 and BF16 take a Float32Array whose values are rounded to nearest-even.
 */
export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: TensorArray;
}

export interface DecodedSafetensors {
  /** In file order (by data offset). */
  tensors: Record<string, SafetensorsTensor>;
  /** `__metadata__`, or {} when the file has none. */
  metadata: Record<string, string>;
}

/** The reference implementation refuses headers above 100 MB; so do we. */
const MAX_HEADER_BYTES = 100_000_000;
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(ELEMENT_BYTES, s);
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function isShape(shape: unknown): shape is number[] {
  return Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0);
}

// ---- half floats -------------------------------------------------------------------------------------

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** float32 -> IEEE half bits, round to nearest even, overflow to infinity. */
function floatToHalf(v: number): number {
  f32Scratch[0] = v;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const full = mant | 0x800000;
    const shift = 14 - e;
    let h = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry into the exponent is still correct
  return sign | h;
}

function bf16ToFloat(h: number): number {
  u32Scratch[0] = h << 16;
  return f32Scratch[0]!;
}

function floatToBf16(v: number): number {
  f32Scratch[0] = v;
  const x = u32Scratch[0]!;
  if (Number.isNaN(v)) return (x >>> 16) | 0x40;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

// ---- bytes ---------------------------------------------------------------------------------------------

/** Reverses every `width`-byte element in place (only used on big-endian hosts). */
function swapBytes(bytes: Uint8Array, width: number): void {
  if (width === 1) return;
  for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
}

/** A little-endian byte copy of a typed array. */
function littleEndianBytes(data: ArrayBufferView, width: number): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  if (!LITTLE_ENDIAN_HOST) swapBytes(bytes, width);
  return bytes;
}

const ARRAY_FOR_DTYPE: Record<SafetensorsDtype, { name: string; ok: (d: TensorArray) => boolean }> = {
  F64: { name: 'Float64Array', ok: (d) => d instanceof Float64Array },
  F32: { name: 'Float32Array', ok: (d) => d instanceof Float32Array },
  F16: { name: 'Float32Array', ok: (d) => d instanceof Float32Array },
  BF16: { name: 'Float32Array', ok: (d) => d instanceof Float32Array },
  I64: { name: 'BigInt64Array', ok: (d) => d instanceof BigInt64Array },
  I32: { name: 'Int32Array', ok: (d) => d instanceof Int32Array },
  I16: { name: 'Int16Array', ok: (d) => d instanceof Int16Array },
  I8: { name: 'Int8Array', ok: (d) => d instanceof Int8Array },
  U8: { name: 'Uint8Array', ok: (d) => d instanceof Uint8Array },
  BOOL: { name: 'Uint8Array', ok: (d) => d instanceof Uint8Array },
};

function tensorBytes(name: string, t: SafetensorsTensor): Uint8Array {
  if (!isDtype(t.dtype)) throw new Error(`safetensors: tensor '${name}': unknown dtype '${String(t.dtype)}'`);
  const want = ARRAY_FOR_DTYPE[t.dtype];
  if (!want.ok(t.data)) {
    throw new Error(`safetensors: tensor '${name}': dtype ${t.dtype} needs a ${want.name}, got ${t.data.constructor.name}`);
  }
  if (!isShape(t.shape)) throw new Error(`safetensors: tensor '${name}': bad shape ${JSON.stringify(t.shape)}`);
  if (elementCount(t.shape) !== t.data.length) {
    throw new Error(`safetensors: tensor '${name}': shape [${t.shape}] needs ${elementCount(t.shape)} values, got ${t.data.length}`);
  }
  const src = t.data as Float32Array;
  if (t.dtype === 'F16' || t.dtype === 'BF16') {
    const convert = t.dtype === 'F16' ? floatToHalf : floatToBf16;
    const bits = new Uint16Array(src.length);
    for (let i = 0; i < src.length; i++) bits[i] = convert(src[i]!);
    return littleEndianBytes(bits, 2);
  }
  return littleEndianBytes(t.data, ELEMENT_BYTES[t.dtype]);
}

// ---- encode / decode -----------------------------------------------------------------------------------

/**
 * Serialises tensors. Data are laid out, and header entries listed, by element size (largest first, so
 * every tensor is aligned to its element size, as the reference implementation does) and then by name;
 * the header is padded with spaces to a multiple of 8 bytes. `__metadata__` is written when non-empty.
 */
export function encodeSafetensors(tensors: Record<string, SafetensorsTensor>, metadata: Record<string, string> = {}): Uint8Array {
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new Error(`safetensors: metadata '${k}' must be a string, got ${typeof v}`);
  }
  const names = Object.keys(tensors);
  if (names.includes('__metadata__')) throw new Error(`safetensors: '__metadata__' cannot be a tensor name`);
  const size = (n: string) => ELEMENT_BYTES[tensors[n]!.dtype] ?? 0;
  names.sort((a, b) => size(b) - size(a) || (a < b ? -1 : a > b ? 1 : 0));

  const entries: string[] = [];
  if (Object.keys(metadata).length > 0) entries.push(`"__metadata__":${JSON.stringify(metadata)}`);
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    const bytes = tensorBytes(name, t);
    entries.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] })}`);
    chunks.push(bytes);
    offset += bytes.length;
  }
  // Written by hand rather than JSON.stringify(object) so integer-like names keep this order.
  let header = `{${entries.join(',')}}`;
  const headerLength = new TextEncoder().encode(header).length;
  header += ' '.repeat((8 - (headerLength % 8)) % 8);
  const headerBytes = new TextEncoder().encode(header);

  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function decodeData(dtype: SafetensorsDtype, raw: Uint8Array): TensorArray {
  // `raw` is a fresh copy starting at byte 0 of its buffer, so every view below is aligned.
  if (!LITTLE_ENDIAN_HOST) swapBytes(raw, ELEMENT_BYTES[dtype]);
  const buf = raw.buffer;
  const n = raw.length / ELEMENT_BYTES[dtype];
  switch (dtype) {
    case 'F64':
      return new Float64Array(buf, 0, n);
    case 'F32':
      return new Float32Array(buf, 0, n);
    case 'F16':
    case 'BF16': {
      const bits = new Uint16Array(buf, 0, n);
      const widen = dtype === 'F16' ? halfToFloat : bf16ToFloat;
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = widen(bits[i]!);
      return out;
    }
    case 'I64':
      return new BigInt64Array(buf, 0, n);
    case 'I32':
      return new Int32Array(buf, 0, n);
    case 'I16':
      return new Int16Array(buf, 0, n);
    case 'I8':
      return new Int8Array(buf, 0, n);
    case 'U8':
    case 'BOOL':
      return raw;
  }
}

/** Parses and validates a safetensors file. `source` (e.g. its path) prefixes every error message. */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): DecodedSafetensors {
  function fail(msg: string): never {
    throw new Error(`${source}: ${msg}`);
  }
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, too short for the 8-byte header length`);
  const declared = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true);
  if (declared > BigInt(bytes.length - 8)) {
    fail(`header length ${declared} goes beyond the end of the file (${bytes.length - 8} bytes after the length field)`);
  }
  const headerLength = Number(declared);
  if (headerLength > MAX_HEADER_BYTES) fail(`header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit`);

  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (e) {
    fail(`header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const fields = header as Record<string, unknown>;

  const metadata: [string, string][] = [];
  const rawMeta = fields.__metadata__;
  if (rawMeta !== undefined) {
    if (typeof rawMeta !== 'object' || rawMeta === null || Array.isArray(rawMeta)) fail(`'__metadata__' is not an object`);
    for (const [k, v] of Object.entries(rawMeta as object)) {
      if (typeof v !== 'string') fail(`'__metadata__.${k}' is not a string (got ${JSON.stringify(v)})`);
      metadata.push([k, v as string]);
    }
  }

  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const infos: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, info] of Object.entries(fields)) {
    if (name === '__metadata__') continue;
    const where = `tensor '${name}'`;
    if (typeof info !== 'object' || info === null || Array.isArray(info)) fail(`${where}: entry is not an object`);
    const { dtype, shape, data_offsets: offsets, ...extra } = info as Record<string, unknown>;
    const unexpected = Object.keys(extra);
    if (unexpected.length > 0) fail(`${where}: unexpected field(s) ${unexpected.join(', ')}`);
    if (!isDtype(dtype)) fail(`${where}: unknown dtype ${JSON.stringify(dtype)} (supported: ${SAFETENSORS_DTYPES.join(', ')})`);
    if (!isShape(shape)) fail(`${where}: 'shape' ${JSON.stringify(shape)} is not a list of non-negative integers`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`${where}: 'data_offsets' ${JSON.stringify(offsets)} is not a pair of non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) fail(`${where}: 'data_offsets' [${begin}, ${end}] end before they begin`);
    if (end > dataLength) fail(`${where}: 'data_offsets' [${begin}, ${end}] are out of range (data section is ${dataLength} bytes)`);
    const want = elementCount(shape as number[]) * ELEMENT_BYTES[dtype as SafetensorsDtype];
    if (end - begin !== want) {
      fail(`${where}: 'data_offsets' [${begin}, ${end}] span ${end - begin} bytes but ${dtype} [${shape}] needs ${want}`);
    }
    infos.push({ name, dtype: dtype as SafetensorsDtype, shape: shape as number[], begin, end });
  }

  // Tensors must tile the data section exactly: no overlap, no gap, nothing after the last one.
  infos.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous = '';
  for (const t of infos) {
    if (t.begin < covered) fail(`tensor '${t.name}' (bytes ${t.begin}..${t.end}) overlaps tensor '${previous}' (ending at byte ${covered})`);
    if (t.begin > covered) fail(`bytes ${covered}..${t.begin} of the data section belong to no tensor (before tensor '${t.name}')`);
    covered = t.end;
    previous = t.name;
  }
  if (covered !== dataLength) fail(`${dataLength - covered} trailing byte(s) after the last tensor's data`);

  const tensors = infos.map((t): [string, SafetensorsTensor] => {
    const raw = new Uint8Array(bytes.subarray(dataStart + t.begin, dataStart + t.end)); // a copy
    return [t.name, { dtype: t.dtype, shape: t.shape, data: decodeData(t.dtype, raw) }];
  });
  return { tensors: Object.fromEntries(tensors), metadata: Object.fromEntries(metadata) };
}

// ---- tf.Tensor helpers -----------------------------------------------------------------------------------

/** float32 -> F32, int32 -> I32, bool -> BOOL. Reads values with the async `data()`. */
export async function tensorsToSafetensors(tensors: Record<string, tf.Tensor>, metadata: Record<string, string> = {}): Promise<Uint8Array> {
  const out: Record<string, SafetensorsTensor> = {};
  for (const [name, t] of Object.entries(tensors)) {
    const shape = t.shape.slice();
    if (t.dtype === 'float32') out[name] = { dtype: 'F32', shape, data: (await t.data()) as Float32Array };
    else if (t.dtype === 'int32') out[name] = { dtype: 'I32', shape, data: (await t.data()) as Int32Array };
    else if (t.dtype === 'bool') out[name] = { dtype: 'BOOL', shape, data: (await t.data()) as Uint8Array };
    else throw new Error(`safetensors: tensor '${name}': tf dtype '${t.dtype}' cannot be stored`);
  }
  return encodeSafetensors(out, metadata);
}

/**
 * tf tensors from decoded safetensors: floating types -> float32 (F64 loses precision), integer types ->
 * int32 (I64 values outside the int32 range are an error), BOOL -> bool. The caller owns the tensors.
 */
export function safetensorsToTensors(decoded: DecodedSafetensors, source = 'safetensors data'): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [name, t] of Object.entries(decoded.tensors)) {
    const d = t.data;
    let tensor: tf.Tensor;
    if (d instanceof Float32Array) tensor = tf.tensor(d, t.shape, 'float32');
    else if (d instanceof Float64Array) tensor = tf.tensor(Float32Array.from(d), t.shape, 'float32');
    else if (d instanceof BigInt64Array) {
      const narrow = new Int32Array(d.length);
      for (let i = 0; i < d.length; i++) {
        const v = d[i]!;
        if (v < -2147483648n || v > 2147483647n) throw new Error(`${source}: tensor '${name}': I64 value ${v} at index ${i} does not fit in int32`);
        narrow[i] = Number(v);
      }
      tensor = tf.tensor(narrow, t.shape, 'int32');
    } else if (t.dtype === 'BOOL') tensor = tf.tensor(d as Uint8Array, t.shape, 'bool');
    else tensor = tf.tensor(Int32Array.from(d as Int32Array), t.shape, 'int32');
    out[name] = tensor;
  }
  return out;
}
