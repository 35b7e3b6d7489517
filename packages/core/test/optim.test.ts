// Optimisation tests: AdamW against a scalar re-implementation of torch's formula and against
// torch.optim.AdamW itself (when the project venv has torch), clipping against clip_grad_norm_,
// schedules at hand-computed points, parameter groups, checkpoint round-trip and tensor leaks.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeVariable, type VariableTree } from '../src/nn/params.js';
import {
  AdamW,
  clipByGlobalNorm,
  constantSchedule,
  cosineMomentum,
  cosineSchedule,
  makeSchedule,
  splitDecay,
  type ParamGroup,
} from '../src/optim/index.js';
import { maxRelDiff, toArray, useBackend } from './helpers.js';

beforeAll(async () => {
  await useBackend();
});

// ---------------------------------------------------------------------------------------------
// A small fixture: two groups (decay with lrScale 0.5; no decay with a fixed lr), three steps with
// scheduled lr and weight decay, and one parameter ('c') that has no gradient at step 2.

const SHAPES: Record<string, number[]> = { w: [2, 3], b: [3], c: [2] };
const INIT: Record<string, number[]> = {
  w: [0.5, -1.25, 2.0, 0.75, -0.3, 1.1],
  b: [0.1, -0.2, 0.05],
  c: [1.5, -0.7],
};
const GROUP_A = ['w'];
const GROUP_B = ['b', 'c'];
const LR_SCALE_A = 0.5;
const LR_B = 3e-3;
// The 1e-9 gradient makes sqrt(v_hat) comparable to eps, so where eps is added matters.
const STEPS: { lr: number; wd: number; grads: Record<string, number[]> }[] = [
  { lr: 1e-2, wd: 0.05, grads: { w: [0.3, -0.1, 0.02, 1.5, 0, 1e-9], b: [0.2, -0.4, 0.01], c: [0.5, -0.25] } },
  { lr: 8e-3, wd: 0.04, grads: { w: [-0.2, 0.15, 0.03, 1.2, 0.5, 1e-9], b: [0.1, 0.3, -0.02] } },
  { lr: 5e-3, wd: 0.03, grads: { w: [0.05, -0.3, -0.01, 0.9, -0.5, 2e-9], b: [-0.3, 0.2, 0.04], c: [0.1, 0.6] } },
];

function makeFixtureParams(owner: string): VariableTree {
  const out: VariableTree = {};
  for (const [name, shape] of Object.entries(SHAPES)) out[name] = makeVariable(owner, name, shape, new Float32Array(INIT[name]!));
  return out;
}

function fixtureGroups(params: VariableTree): ParamGroup[] {
  const pick = (names: string[]) => Object.fromEntries(names.map((n) => [n, params[n]!]));
  return [
    { params: pick(GROUP_A), lrScale: LR_SCALE_A },
    { params: pick(GROUP_B), lr: LR_B, weightDecay: 0 },
  ];
}

function runFixture(): Record<string, Float32Array> {
  const params = makeFixtureParams('fixture');
  const opt = new AdamW(fixtureGroups(params));
  for (const s of STEPS) {
    const grads: Record<string, tf.Tensor> = {};
    for (const [name, g] of Object.entries(s.grads)) grads[name] = tf.tensor(g, SHAPES[name]);
    opt.step(grads, { lr: s.lr, weightDecay: s.wd });
    tf.dispose(grads);
  }
  const out = Object.fromEntries(Object.entries(params).map(([n, p]) => [n, toArray(p).slice()]));
  opt.dispose();
  tf.dispose(params);
  return out;
}

/** torch.optim.AdamW (single-tensor path, amsgrad off) written out per scalar, in float64. */
function referenceAdamW(): Record<string, number[]> {
  const [beta1, beta2, eps] = [0.9, 0.999, 1e-8];
  const state: Record<string, { p: number[]; m: number[]; v: number[]; t: number }> = {};
  for (const [name, init] of Object.entries(INIT)) {
    state[name] = { p: init.slice(), m: init.map(() => 0), v: init.map(() => 0), t: 0 };
  }
  for (const s of STEPS) {
    const groups = [
      { names: GROUP_A, lr: s.lr * LR_SCALE_A, wd: s.wd },
      { names: GROUP_B, lr: LR_B, wd: 0 },
    ];
    for (const { names, lr, wd } of groups) {
      for (const name of names) {
        const g = s.grads[name];
        if (!g) continue; // grad is None: torch skips the parameter entirely
        const st = state[name]!;
        st.t += 1;
        const bc1 = 1 - beta1 ** st.t;
        const bc2 = 1 - beta2 ** st.t;
        for (let i = 0; i < g.length; i++) {
          const gi = g[i]!;
          let p = st.p[i]! * (1 - lr * wd);
          const m = st.m[i]! + (gi - st.m[i]!) * (1 - beta1);
          const v = st.v[i]! * beta2 + (1 - beta2) * gi * gi;
          p -= (lr / bc1) * (m / (Math.sqrt(v) / Math.sqrt(bc2) + eps));
          st.p[i] = p;
          st.m[i] = m;
          st.v[i] = v;
        }
      }
    }
  }
  return Object.fromEntries(Object.entries(state).map(([n, st]) => [n, st.p]));
}

// ---------------------------------------------------------------------------------------------
// PyTorch reference, run in the project venv when torch is importable.

const PYTHON = fileURLToPath(new URL('../../../.cache/venv/bin/python', import.meta.url));
const HAS_TORCH = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

const TORCH_SCRIPT = `
import json, sys, torch
f = json.load(sys.stdin)
P = {n: torch.tensor(v, dtype=torch.float32).reshape(f['shapes'][n]).requires_grad_() for n, v in f['init'].items()}
opt = torch.optim.AdamW([
    {'params': [P[n] for n in f['groupA']], 'lr': 0.0, 'weight_decay': 0.0},
    {'params': [P[n] for n in f['groupB']], 'lr': f['lrB'], 'weight_decay': 0.0},
], betas=(0.9, 0.999), eps=1e-8)
for s in f['steps']:
    opt.param_groups[0]['lr'] = s['lr'] * f['lrScaleA']
    opt.param_groups[0]['weight_decay'] = s['wd']
    for n, p in P.items():
        g = s['grads'].get(n)
        p.grad = None if g is None else torch.tensor(g, dtype=torch.float32).reshape(p.shape)
    opt.step()
clip = []
for c in f['clip']:
    ps = [torch.zeros(len(g)) for g in c['grads']]
    for p, g in zip(ps, c['grads']):
        p.grad = torch.tensor(g, dtype=torch.float32)
    norm = torch.nn.utils.clip_grad_norm_(ps, c['maxNorm'])
    clip.append({'norm': float(norm), 'grads': [p.grad.tolist() for p in ps]})
print(json.dumps({'params': {n: p.detach().flatten().tolist() for n, p in P.items()}, 'clip': clip}))
`;

// Hand case for clipping: a = [3, 4], b = [[12]] has global norm 13.
const CLIP_GRADS = { a: { shape: [2], data: [3, 4] }, b: { shape: [1, 1], data: [12] } };
const CLIP_CASES = [6.5, 20];

type TorchResult = { params: Record<string, number[]>; clip: { norm: number; grads: number[][] }[] };
let torchResult: TorchResult | undefined;

/** Runs the script once per file (torch import takes seconds). */
function runTorch(): TorchResult {
  if (torchResult) return torchResult;
  const input = {
    shapes: SHAPES,
    init: INIT,
    groupA: GROUP_A,
    groupB: GROUP_B,
    lrB: LR_B,
    lrScaleA: LR_SCALE_A,
    steps: STEPS,
    clip: CLIP_CASES.map((maxNorm) => ({ maxNorm, grads: Object.values(CLIP_GRADS).map((g) => g.data) })),
  };
  const r = spawnSync(PYTHON, ['-c', TORCH_SCRIPT], { input: JSON.stringify(input), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`torch reference failed: ${r.stderr}`);
  torchResult = JSON.parse(r.stdout) as TorchResult;
  return torchResult;
}

describe('AdamW', () => {
  it('matches a scalar re-implementation of torch.optim.AdamW over 3 steps (two groups, a skipped grad)', () => {
    const got = runFixture();
    const want = referenceAdamW();
    for (const name of Object.keys(SHAPES)) expect(maxRelDiff(got[name]!, want[name]!), name).toBeLessThan(1e-6);
  });

  it.skipIf(!HAS_TORCH)('matches torch.optim.AdamW (skipped when torch is not importable in .cache/venv)', () => {
    const got = runFixture();
    const want = runTorch().params;
    for (const name of Object.keys(SHAPES)) expect(maxRelDiff(got[name]!, want[name]!), name).toBeLessThan(1e-6);
  });

  it('getState/setState resumes exactly like an uninterrupted run', async () => {
    const grads = (k: number): Record<string, tf.Tensor> => ({
      w: tf.tensor([0.1 * k, -0.2, 0.3, 0.05 * k, 1, -0.5], SHAPES.w),
      b: tf.tensor([0.1, -0.1 * k, 0.2], SHAPES.b),
      ...(k % 2 === 0 ? { c: tf.tensor([k, -1], SHAPES.c) } : {}),
    });
    const hyper = (k: number) => ({ lr: 1e-2 / (k + 1), weightDecay: 0.05 });
    const run = (opt: AdamW, from: number, to: number) => {
      for (let k = from; k < to; k++) {
        const g = grads(k);
        opt.step(g, hyper(k));
        tf.dispose(g);
      }
    };

    const straight = makeFixtureParams('straight');
    const optA = new AdamW(fixtureGroups(straight));
    run(optA, 0, 5);

    const first = makeFixtureParams('first');
    const optB = new AdamW(fixtureGroups(first));
    run(optB, 0, 3);
    // Serialise through plain arrays, as a checkpoint would.
    const state = optB.getState();
    const saved: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const [k, t] of Object.entries({ ...state.moments, ...first })) saved[k] = { shape: t.shape, data: (await t.data()) as Float32Array };
    tf.dispose(state.moments);
    optB.dispose();
    tf.dispose(first);

    const resumed: VariableTree = {};
    for (const name of Object.keys(SHAPES)) resumed[name] = makeVariable('resumed', name, saved[name]!.shape, saved[name]!.data);
    const optC = new AdamW(fixtureGroups(resumed));
    const moments = Object.fromEntries(
      Object.keys(state.moments).map((k) => [k, tf.tensor(saved[k]!.data, saved[k]!.shape)]),
    );
    optC.setState({ step: state.step, paramSteps: { ...state.paramSteps }, moments });
    tf.dispose(moments);
    expect(optC.steps).toBe(3);
    run(optC, 3, 5);

    for (const name of Object.keys(SHAPES)) expect(Array.from(toArray(resumed[name]!)), name).toEqual(Array.from(toArray(straight[name]!)));
    const after = optC.getState();
    expect(after.paramSteps).toEqual({ w: 5, b: 5, c: 3 }); // 'c' only had grads at k = 0, 2, 4
    tf.dispose(after.moments);
    for (const o of [optA, optC]) o.dispose();
    tf.dispose([straight, resumed]);
  });

  it('setState and step reject bad input with the parameter named', () => {
    const params = makeFixtureParams('bad');
    const opt = new AdamW(fixtureGroups(params));
    const good = opt.getState();
    const without = { ...good.moments };
    delete without['v/b'];
    expect(() => opt.setState({ ...good, moments: without })).toThrow(/missing moment 'v\/b'.*parameter 'b'/);
    const wrongShape = { ...good.moments, 'm/w': tf.zeros([3, 2]) };
    expect(() => opt.setState({ ...good, moments: wrongShape })).toThrow(/'m\/w'.*\[3,2\].*parameter 'w'.*\[2,3\]/);
    expect(() => opt.setState({ ...good, moments: { ...good.moments, 'm/zzz': tf.zeros([1]) } })).toThrow(/'m\/zzz'/);
    expect(() => opt.setState({ ...good, paramSteps: { w: 1, b: 1 } })).toThrow(/paramSteps\['c'\]/);
    expect(() => opt.step({ nope: tf.zeros([1]) }, { lr: 1, weightDecay: 0 })).toThrow(/unknown parameter 'nope'/);
    expect(() => opt.step({ b: tf.zeros([4]) }, { lr: 1, weightDecay: 0 })).toThrow(/'b' has shape \[4\]/);
    expect(() => new AdamW([{ params }, { params: { w: params.w! } }])).toThrow(/'w' appears in more than one group/);
    expect(() => new AdamW([{ params, lr: 1, lrScale: 2 }])).toThrow(/both lr and lrScale/);
    tf.dispose([good.moments, wrongShape['m/w']]);
    opt.dispose();
    expect(() => opt.step({}, { lr: 1, weightDecay: 0 })).toThrow(/after dispose/);
    tf.dispose(params);
  });

  it('does not leak: tf.memory().numTensors is the same after step 2 and step 20 (with clipping)', () => {
    const params = makeFixtureParams('leak');
    const opt = new AdamW(splitDecay(params));
    const grads = Object.fromEntries(Object.entries(SHAPES).map(([n, s]) => [n, tf.fill(s, 0.3)]));
    const counts: number[] = [];
    for (let k = 1; k <= 20; k++) {
      const clipped = clipByGlobalNorm(grads, 0.5);
      opt.step(clipped.grads, { lr: 1e-3, weightDecay: 0.05 });
      tf.dispose([clipped.grads, clipped.norm]);
      counts.push(tf.memory().numTensors);
    }
    expect(counts[19]).toBe(counts[1]);
    opt.dispose();
    tf.dispose([params, grads]);
  });
});

describe('clipByGlobalNorm', () => {
  const expectClip = (maxNorm: number) => {
    const grads = Object.fromEntries(Object.entries(CLIP_GRADS).map(([n, g]) => [n, tf.tensor(g.data, g.shape)]));
    const out = clipByGlobalNorm(grads, maxNorm);
    const result = { norm: toArray(out.norm)[0]!, a: Array.from(toArray(out.grads.a!)), b: Array.from(toArray(out.grads.b!)) };
    expect(out.grads.a).not.toBe(grads.a);
    tf.dispose([grads, out.grads, out.norm]);
    return result;
  };

  it('matches clip_grad_norm_ on a hand case (norm 13, clipped to 6.5; not clipped at 20)', () => {
    const scale = 6.5 / (13 + 1e-6); // torch: max_norm / (total_norm + 1e-6), clamped to 1
    const clipped = expectClip(6.5);
    expect(clipped.norm).toBeCloseTo(13, 5);
    expect(maxRelDiff(clipped.a, [3 * scale, 4 * scale])).toBeLessThan(1e-6);
    expect(maxRelDiff(clipped.b, [12 * scale])).toBeLessThan(1e-6);
    const untouched = expectClip(20);
    expect(untouched.a).toEqual([3, 4]);
    expect(untouched.b).toEqual([12]);
    expect(() => clipByGlobalNorm({}, 0)).toThrow(/maxNorm/);
  });

  it.skipIf(!HAS_TORCH)('matches torch.nn.utils.clip_grad_norm_ (skipped when torch is not importable in .cache/venv)', () => {
    const torch = runTorch().clip;
    CLIP_CASES.forEach((maxNorm, i) => {
      const got = expectClip(maxNorm);
      const want = torch[i]!;
      expect(maxRelDiff([got.norm], [want.norm])).toBeLessThan(1e-6);
      expect(maxRelDiff([...got.a, ...got.b], want.grads.flat())).toBeLessThan(1e-6);
    });
  });
});

describe('schedules', () => {
  it('cosineSchedule: linspace warmup, then half cosine, then holds final', () => {
    // 10 warmup steps from 0 to 1 (np.linspace: step 9 is exactly base), 100 cosine steps to 0.1.
    const s = cosineSchedule({ base: 1, final: 0.1, totalSteps: 110, warmupSteps: 10, warmupStart: 0 });
    expect(s(0)).toBe(0);
    expect(s(3)).toBeCloseTo(3 / 9, 12);
    expect(s(9)).toBeCloseTo(1, 12);
    expect(s(10)).toBeCloseTo(1, 12); // first cosine step, cos(0)
    expect(s(60)).toBeCloseTo(0.55, 12); // middle: 0.1 + 0.45 * (1 + cos(pi/2))
    expect(s(109)).toBeCloseTo(0.1 + 0.45 * (1 + Math.cos((Math.PI * 99) / 100)), 12);
    expect(s(110)).toBe(0.1);
    expect(s(10_000)).toBe(0.1);
    const noWarmup = cosineSchedule({ base: 2, final: 0, totalSteps: 4 });
    expect([0, 1, 2, 3, 4].map(noWarmup)).toEqual([2, 1 + Math.cos(Math.PI / 4), 1 + Math.cos(Math.PI / 2), 1 + Math.cos((3 * Math.PI) / 4), 0]);
  });

  it('constantSchedule and cosineMomentum', () => {
    expect(constantSchedule(0.05)(1234)).toBe(0.05);
    expect(cosineMomentum(0, 100, 0.996)).toBeCloseTo(0.996, 12);
    expect(cosineMomentum(50, 100, 0.996)).toBeCloseTo(0.998, 12);
    expect(cosineMomentum(25, 100, 0.996)).toBeCloseTo(1 - 0.004 * (Math.SQRT1_2 + 1) / 2, 12);
    expect(cosineMomentum(100, 100, 0.996)).toBe(1);
    expect(cosineMomentum(500, 100, 0.996)).toBe(1);
    expect(cosineMomentum(50, 100, 0.9, 0.99)).toBeCloseTo(0.945, 12);
  });

  it('makeSchedule builds from a config and validation errors name the field', () => {
    const s = makeSchedule({ kind: 'cosine', base: 1, final: 0.1, totalSteps: 110, warmupSteps: 10 });
    expect(s(60)).toBeCloseTo(0.55, 12);
    expect(makeSchedule({ kind: 'constant', value: 3 })(7)).toBe(3);
    expect(() => makeSchedule({ kind: 'cosine', base: 1, final: 0, totalSteps: 5, warmupSteps: 6 })).toThrow(/warmupSteps/);
    expect(() => makeSchedule({ kind: 'cosine', base: 1, final: 0, totalSteps: -5 })).toThrow(/totalSteps/);
    expect(() => makeSchedule({ kind: 'linear' } as never)).toThrow(/kind/);
    expect(() => cosineSchedule({ base: 1, final: 0, totalSteps: 5, warmupSteps: 6 })).toThrow(/warmupSteps \(6\) must not exceed totalSteps/);
    expect(() => s(-1)).toThrow(/step must be a non-negative integer, got -1/);
    expect(() => cosineMomentum(-2, 10, 0.99)).toThrow(/step/);
    expect(() => cosineMomentum(1, 0, 0.99)).toThrow(/totalSteps/);
  });
});

describe('splitDecay', () => {
  const make = (): VariableTree => {
    const v = (name: string, shape: number[], trainable = true) => makeVariable('split', name, shape, 'zeros', trainable);
    return {
      cls_token: v('cls_token', [1, 1, 4]),
      pos_embed: v('pos_embed', [1, 5, 4]),
      mask_token: v('mask_token', [1, 1, 4]),
      decoder_pos_embed: v('decoder_pos_embed', [1, 5, 4], false),
      'decoder.pos_embed': v('decoder.pos_embed', [1, 5, 4]),
      'patch_embed.proj.weight': v('patch_embed.proj.weight', [12, 4]),
      'patch_embed.proj.bias': v('patch_embed.proj.bias', [4]),
      'blocks.0.norm1.weight': v('blocks.0.norm1.weight', [4]),
      'blocks.0.attn.qkv.weight': v('blocks.0.attn.qkv.weight', [4, 12]),
      'blocks.0.ls1.gamma': v('blocks.0.ls1.gamma', [4]),
      'head.weight': v('head.weight', [4, 10]),
    };
  };

  it('decays matrices only; rank <= 1, tokens and pos_embed get weightDecay 0; frozen ones are left out', () => {
    const params = make();
    const [decay, noDecay] = splitDecay(params);
    expect(Object.keys(decay.params).sort()).toEqual(['blocks.0.attn.qkv.weight', 'head.weight', 'patch_embed.proj.weight']);
    expect(Object.keys(noDecay.params).sort()).toEqual(
      [
        'blocks.0.ls1.gamma',
        'blocks.0.norm1.weight',
        'cls_token',
        'decoder.pos_embed',
        'mask_token',
        'patch_embed.proj.bias',
        'pos_embed',
      ],
    );
    expect(decay.weightDecay).toBeUndefined();
    expect(noDecay.weightDecay).toBe(0);
    expect(noDecay.params.pos_embed).toBe(params.pos_embed);

    const [d2, n2] = splitDecay(params, { noDecayNames: ['head.weight'] });
    expect(Object.keys(n2.params)).toContain('head.weight');
    expect(Object.keys(d2.params)).toContain('pos_embed');
    new AdamW(splitDecay(params)).dispose(); // the groups are what AdamW takes
    tf.dispose(params);
  });
});
