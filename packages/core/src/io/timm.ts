// Our ViT parameter record <-> a timm `VisionTransformer` state dict (same names, timm's layouts), so a
// backbone trained here loads into PyTorch and back:
//   patch_embed.proj.weight   ours [p*p*C, D] (a patch vector ordered (row, col, channel))  <-> timm [D, C, p, p]
//   every linear weight       ours [in, out]                                                 <-> timm [out, in]
//     (attn.qkv, attn.proj, mlp.fc1, mlp.fc2; timm's qkv rows are ordered (q|k|v, head, head_dim),
//      which is our column order, so a transpose is all it takes)
//   biases, norms, cls_token [1, 1, D], pos_embed [1, (cls ? 1 : 0) + N, D]                  unchanged
//
// The timm model must be built with the same shapes and structure:
//   timm.create_model('vit_...', img_size=imageSize, patch_size=patchSize, in_chans=inChannels,
//       embed_dim=embedDim, depth=depth, num_heads=numHeads, mlp_ratio=mlpRatio, qkv_bias=True,
//       class_token=classToken, global_pool='token' if classToken else 'avg', fc_norm=False,
//       num_classes=0, norm_layer=partial(nn.LayerNorm, eps=1e-6))  # timm's default eps is 1e-6 too
// and without LayerScale (init_values=None), register tokens, qk_norm, pre_norm or no_embed_class.
// fc_norm=False matters with global_pool='avg': otherwise timm (like MAE's fine-tuning ViT) replaces the
// final `norm` by an `fc_norm` applied after pooling, which is a different model than ours (norm, then
// pool). With num_classes > 0 timm adds `head.*`; pass `ignore: ['head.*']` when importing.
import * as tf from '@tensorflow/tfjs-core';
import { param, type ParamTree } from '../nn/params.js';
import type { VitConfig } from '../vit/config.js';
import { vitParamShapes } from '../vit/vit.js';

/** A timm state dict entry, ready for encodeSafetensors. */
export interface TimmTensor {
  dtype: 'F32';
  shape: number[];
  data: Float32Array;
}
export type TimmStateDict = Record<string, TimmTensor>;

/** What fromTimmStateDict accepts per key, e.g. decoded safetensors (integer data is refused). */
export interface TimmTensorInput {
  shape: readonly number[];
  data: ArrayLike<number> | BigInt64Array;
}

export interface FromTimmOptions {
  /** Keys to skip if present, with `*` matching any characters, e.g. ['head.*', 'fc_norm.*']. */
  ignore?: string[];
  /** Names the state dict's origin (a file path) in errors. */
  source?: string;
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** How one of our parameters is laid out in timm: the axis order of ours (viewed as `view`) that gives timm's. */
function layout(c: VitConfig, name: string, ours: number[]): { view: number[]; perm: number[] } | null {
  if (name === 'patch_embed.proj.weight') return { view: [c.patchSize, c.patchSize, c.inChannels, c.embedDim], perm: [3, 2, 0, 1] };
  if (name.endsWith('.weight') && ours.length === 2) return { view: ours, perm: [1, 0] };
  return null;
}

/** Names and timm shapes of every parameter of a timm ViT matching `c` (without `head`). */
export function timmParamShapes(c: VitConfig): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [name, ours] of Object.entries(vitParamShapes(c))) {
    const l = layout(c, name, ours);
    out[name] = l ? l.perm.map((a) => l.view[a]!) : ours;
  }
  return out;
}

/** Transposes row-major `data` of shape `shape` so that output axis i is input axis perm[i]. */
export function permuteAxes(data: ArrayLike<number>, shape: readonly number[], perm: readonly number[]): Float32Array {
  const rank = shape.length;
  const inStrides = new Array<number>(rank).fill(1);
  for (let a = rank - 2; a >= 0; a--) inStrides[a] = inStrides[a + 1]! * shape[a + 1]!;
  const outShape = perm.map((a) => shape[a]!);
  const step = perm.map((a) => inStrides[a]!);
  const out = new Float32Array(data.length);
  const index = new Array<number>(rank).fill(0);
  let src = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = data[src]!;
    for (let ax = rank - 1; ax >= 0; ax--) {
      index[ax]!++;
      src += step[ax]!;
      if (index[ax]! < outShape[ax]!) break;
      src -= step[ax]! * outShape[ax]!;
      index[ax] = 0;
    }
  }
  return out;
}

function inversePerm(perm: number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((a, i) => (inv[a] = i));
  return inv;
}

/** Our parameters as a timm state dict (float32). Reads values with the async `data()`. */
export async function toTimmStateDict(c: VitConfig, params: ParamTree): Promise<TimmStateDict> {
  const out: TimmStateDict = {};
  for (const [name, ours] of Object.entries(vitParamShapes(c))) {
    const t = param(params, name);
    if (!sameShape(t.shape, ours)) throw new Error(`toTimmStateDict: '${name}' has shape [${t.shape}], the config expects [${ours}]`);
    if (t.dtype !== 'float32') throw new Error(`toTimmStateDict: '${name}' is ${t.dtype}, expected float32`);
    const data = (await t.data()) as Float32Array;
    const l = layout(c, name, ours);
    out[name] = l
      ? { dtype: 'F32', shape: l.perm.map((a) => l.view[a]!), data: permuteAxes(data, l.view, l.perm) }
      : { dtype: 'F32', shape: ours.slice(), data: Float32Array.from(data) };
  }
  return out;
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/**
 * Our parameter record (new float32 tensors, owned by the caller) from a timm state dict. Every expected
 * key must be present with timm's shape; keys we do not know are an error unless matched by `ignore`.
 */
export function fromTimmStateDict(c: VitConfig, dict: Record<string, TimmTensorInput>, options: FromTimmOptions = {}): Record<string, tf.Tensor> {
  const where = options.source ? `${options.source}: ` : '';
  const expected = timmParamShapes(c);
  const missing = Object.keys(expected).filter((k) => !Object.hasOwn(dict, k));
  if (missing.length > 0) throw new Error(`${where}timm state dict is missing ${missing.map((k) => `'${k}'`).join(', ')}`);
  const ignore = (options.ignore ?? []).map(globToRegExp);
  const unexpected = Object.keys(dict).filter((k) => !Object.hasOwn(expected, k) && !ignore.some((r) => r.test(k)));
  if (unexpected.length > 0) {
    throw new Error(`${where}unexpected key(s) in timm state dict: ${unexpected.map((k) => `'${k}'`).join(', ')} (see the 'ignore' option)`);
  }

  const ourShapes = vitParamShapes(c);
  const checked: [string, Float32Array][] = [];
  for (const [name, timmShape] of Object.entries(expected)) {
    const entry = dict[name]!;
    if (!sameShape(entry.shape, timmShape)) {
      throw new Error(`${where}'${name}': timm shape [${entry.shape}] does not match the expected [${timmShape}]`);
    }
    if (entry.data instanceof BigInt64Array) throw new Error(`${where}'${name}': 64-bit integer data, expected floating point`);
    if (entry.data.length !== elementCount(timmShape)) {
      throw new Error(`${where}'${name}': ${entry.data.length} values for shape [${timmShape}]`);
    }
    const ours = ourShapes[name]!;
    const l = layout(c, name, ours);
    checked.push([name, l ? permuteAxes(entry.data, timmShape, inversePerm(l.perm)) : Float32Array.from(entry.data)]);
  }
  return Object.fromEntries(checked.map(([name, data]) => [name, tf.tensor(data, ourShapes[name]!, 'float32')]));
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
