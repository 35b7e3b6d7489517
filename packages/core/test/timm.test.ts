// The timm state-dict mapping: exact round trip, layouts checked against a convolution, errors naming
// missing/misshaped/unexpected keys, and a cross-check against a plain-PyTorch ViT with timm's names and
// layouts (timm itself cannot be imported here) loading our export with load_state_dict(strict=True).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SafetensorsTensor } from '../src/io/safetensors.js';
import { readSafetensorsFile, writeSafetensorsFile } from '../src/node/safetensors-files.js';
import { fromTimmStateDict, permuteAxes, timmParamShapes, toTimmStateDict } from '../src/io/timm.js';
import type { ParamTree } from '../src/nn/params.js';
import { parseVitConfig, type VitConfig } from '../src/vit/config.js';
import { embedPatches, vitFeatures, vitForward, vitParamShapes } from '../src/vit/vit.js';
import { Rng } from '../src/util/rng.js';
import { maxRelDiff, useBackend } from './helpers.js';

const PYTHON = fileURLToPath(new URL('../../../.cache/venv/bin/python', import.meta.url));
const torchReady = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import torch, safetensors, numpy'], { encoding: 'utf8' }).status === 0;

let dir = '';
beforeAll(async () => {
  await useBackend();
  dir = await mkdtemp(join(tmpdir(), 'maskedssl-timm-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const config = () => parseVitConfig({ imageSize: 16, patchSize: 4, inChannels: 3, embedDim: 32, depth: 2, numHeads: 4 });

/** Every parameter random (biases, norms and positions too), so any mixed-up layout changes the output. */
function randomParams(c: VitConfig, seed: number): ParamTree {
  const rng = new Rng(seed);
  const out: ParamTree = {};
  for (const [name, shape] of Object.entries(vitParamShapes(c))) {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = name.endsWith('norm1.weight') || name.endsWith('norm2.weight') || name === 'norm.weight' ? rng.uniformArray(n, 0.5, 1.5) : rng.uniformArray(n, -0.3, 0.3);
    out[name] = tf.tensor(values, shape, 'float32');
  }
  return out;
}

describe('timm state dict', () => {
  it('round-trips ours -> timm -> ours exactly, with timm shapes on the way', async () => {
    const c = config();
    const params = randomParams(c, 1);
    const timm = await toTimmStateDict(c, params);
    expect(Object.keys(timm).sort()).toEqual(Object.keys(params).sort());
    expect(timm['patch_embed.proj.weight']!.shape).toEqual([32, 3, 4, 4]);
    expect(timm['blocks.0.attn.qkv.weight']!.shape).toEqual([96, 32]);
    expect(timm['blocks.1.mlp.fc1.weight']!.shape).toEqual([128, 32]);
    expect(timm['blocks.1.mlp.fc2.weight']!.shape).toEqual([32, 128]);
    expect(timm.pos_embed!.shape).toEqual([1, 17, 32]);
    expect(timm.cls_token!.shape).toEqual([1, 1, 32]);
    for (const [name, t] of Object.entries(timm)) expect(t.shape, name).toEqual(timmParamShapes(c)[name]);

    const back = fromTimmStateDict(c, timm);
    for (const [name, t] of Object.entries(params)) {
      expect(back[name]!.shape, name).toEqual(t.shape);
      expect(Array.from(await back[name]!.data()), name).toEqual(Array.from(await t.data()));
    }
  });

  it('maps single elements as documented: patch (row, col, channel) -> [D, C, p, p], [in, out] -> [out, in]', async () => {
    const c = config();
    const params = randomParams(c, 2);
    const timm = await toTimmStateDict(c, params);
    const ours = await params['patch_embed.proj.weight']!.data();
    const theirs = timm['patch_embed.proj.weight']!.data;
    const [p, C, D] = [4, 3, 32];
    for (const [r, col, ch, d] of [[0, 0, 0, 0], [1, 2, 0, 5], [3, 1, 2, 31], [2, 3, 1, 17]] as const) {
      expect(theirs[((d * C + ch) * p + r) * p + col]).toBe(ours[((r * p + col) * C + ch) * D + d]);
    }
    const qkv = await params['blocks.0.attn.qkv.weight']!.data();
    expect(timm['blocks.0.attn.qkv.weight']!.data[70 * 32 + 9]).toBe(qkv[9 * 96 + 70]);
  });

  it("timm's patch weight, as a stride-p convolution on NHWC images, equals our patch embedding", async () => {
    const c = config();
    const params = randomParams(c, 3);
    const timm = await toTimmStateDict(c, params);
    const w = timm['patch_embed.proj.weight']!;
    const hwio = tf.tensor4d(permuteAxes(w.data, w.shape, [2, 3, 1, 0]), [4, 4, 3, 32]); // [D,C,kh,kw] -> [kh,kw,C,D]
    const x = tf.tensor4d(new Rng(4).uniformArray(2 * 16 * 16 * 3), [2, 16, 16, 3]);
    const conv = tf.add(tf.conv2d(x, hwio, 4, 'valid'), params['patch_embed.proj.bias']!);
    const ours = embedPatches(c, params, x);
    expect(maxRelDiff(await ours.data(), await tf.reshape(conv, [2, 16, 32]).data())).toBeLessThan(1e-5);
  });

  it('names a missing key, a wrongly shaped tensor (with both shapes) and unexpected keys', async () => {
    const c = config();
    const timm: Record<string, SafetensorsTensor> = { ...(await toTimmStateDict(c, randomParams(c, 5))) };

    const { ['blocks.1.attn.proj.bias']: _dropped, ...missing } = timm;
    expect(() => fromTimmStateDict(c, missing, { source: 'vit.safetensors' })).toThrow(
      "vit.safetensors: timm state dict is missing 'blocks.1.attn.proj.bias'",
    );

    const wrong = { ...timm, 'blocks.0.mlp.fc1.weight': { dtype: 'F32' as const, shape: [32, 128], data: new Float32Array(32 * 128) } };
    expect(() => fromTimmStateDict(c, wrong)).toThrow("'blocks.0.mlp.fc1.weight': timm shape [32,128] does not match the expected [128,32]");

    const withHead = { ...timm, 'head.weight': { shape: [10, 32], data: new Float32Array(320) }, 'head.bias': { shape: [10], data: new Float32Array(10) } };
    expect(() => fromTimmStateDict(c, withHead)).toThrow("unexpected key(s) in timm state dict: 'head.weight', 'head.bias'");
    const loaded = fromTimmStateDict(c, withHead, { ignore: ['head.*'] });
    expect(Object.keys(loaded).sort()).toEqual(Object.keys(vitParamShapes(c)).sort());
  });

  it.skipIf(!torchReady)(
    torchReady
      ? 'a plain-PyTorch ViT with timm names loads our export strictly and matches our tokens and avg features to 1e-4'
      : `skipped: ${PYTHON} with torch and safetensors is not available (pip install torch safetensors numpy in the venv)`,
    async () => {
      const c = config();
      const params = randomParams(c, 6);
      const images = new Rng(7).uniformArray(3 * 16 * 16 * 3, -1, 1);
      const exported: Record<string, SafetensorsTensor> = { ...(await toTimmStateDict(c, params)) };
      exported['test.images'] = { dtype: 'F32', shape: [3, 16, 16, 3], data: images };
      const input = join(dir, 'vit.safetensors');
      const output = join(dir, 'out.safetensors');
      await writeSafetensorsFile(input, exported, { format: 'pt' });

      const run = spawnSync(PYTHON, ['-c', TORCH_VIT, JSON.stringify(c), input, output], { encoding: 'utf8' });
      expect(run.status, `python failed:\n${run.stderr}`).toBe(0);
      const ref = await readSafetensorsFile(output);

      const x = tf.tensor4d(images, [3, 16, 16, 3]);
      const tokens = vitForward(c, params, x).tokens;
      const avg = vitFeatures(c, tokens, 'avg');
      expect(ref.tensors.tokens!.shape).toEqual([3, 17, 32]);
      expect(maxRelDiff(await tokens.data(), ref.tensors.tokens!.data as Float32Array)).toBeLessThan(1e-4);
      expect(maxRelDiff(await avg.data(), ref.tensors.avg!.data as Float32Array)).toBeLessThan(1e-4);
      // Something non-trivial was compared.
      expect(Math.max(...Array.from(ref.tensors.avg!.data as Float32Array).map(Math.abs))).toBeGreaterThan(0.1);
    },
  );
});

// A ViT in plain PyTorch with exactly timm's module names and layouts (VisionTransformer, Block, Attention,
// Mlp, PatchEmbed), run in float64 on the exported weights. Writes the final-norm tokens and their mean
// over patch tokens (timm's global_pool='avg' with fc_norm=False).
const TORCH_VIT = String.raw`
import json, sys
import torch, torch.nn as nn, torch.nn.functional as F
from safetensors.torch import load_file, save_file

cfg, src, dst = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
D, heads, C, p = cfg['embedDim'], cfg['numHeads'], cfg['inChannels'], cfg['patchSize']
n = (cfg['imageSize'] // p) ** 2
eps = 1e-6

class PatchEmbed(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Conv2d(C, D, kernel_size=p, stride=p)
    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)

class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(D, 3 * D, bias=True)
        self.proj = nn.Linear(D, D)
    def forward(self, x):
        B, N, _ = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, heads, D // heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = ((q * (D // heads) ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, D))

class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        hidden = int(D * cfg['mlpRatio'])
        self.fc1, self.act, self.fc2 = nn.Linear(D, hidden), nn.GELU(), nn.Linear(hidden, D)
    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))

class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(D, eps=eps), Attention()
        self.norm2, self.mlp = nn.LayerNorm(D, eps=eps), Mlp()
    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))

class VisionTransformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch_embed = PatchEmbed()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, D))
        self.blocks = nn.Sequential(*[Block() for _ in range(cfg['depth'])])
        self.norm = nn.LayerNorm(D, eps=eps)
    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        return self.norm(self.blocks(x))

state = load_file(src)
images = state.pop('test.images').permute(0, 3, 1, 2).double()  # NHWC -> NCHW
model = VisionTransformer()
model.load_state_dict(state, strict=True)
model = model.double().eval()
with torch.no_grad():
    tokens = model(images)
save_file({'tokens': tokens.float().contiguous(), 'avg': tokens[:, 1:].mean(dim=1).float().contiguous()}, dst)
`;
