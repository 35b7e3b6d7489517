// Every method's first three losses and gradient norms from one seed, pinned. A refactor that touches a
// method must reproduce them: the numbers below were recorded on native TensorFlow (AMD EPYC, Zen) before
// the method kit existed, and every method was ported onto the kit against them at 1e-6 relative
// (MASKEDSSL_PINNED_TOLERANCE=1e-6). Another CPU's oneDNN kernels sum in another order, so the default
// tolerance is 1e-3: far below what any change to a loss, a head or a schedule moves.
// vit-micro/4, batch 8, 28x28 procedural images, seed 5, clipping at 1e9 (so the norm is logged, never
// applied). Skips, saying so, without the native backend (other backends sum in other orders).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableBackends, initBackend, memoryReporter } from '@maskedssl/core/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPretrain } from '../packages/cli/src/commands/pretrain.js';
import { methodNames, registerMethods } from '../packages/cli/src/methods.js';
import { resolveRunConfig } from '../packages/cli/src/run-config.js';

registerMethods();
const native = (await availableBackends()).includes('tensorflow');
const tolerance = Number(process.env.MASKEDSSL_PINNED_TOLERANCE ?? 1e-3);

/** method -> [losses of steps 1-3, gradient norms of steps 1-3], recorded on native TensorFlow. */
const pinned: Record<string, { losses: number[]; gradNorms: number[] }> = {
  // ibot runs its fashion-mnist preset here (procedural data); re-pinned when that preset moved to createVit's init,
  // teacher temperatures 0.02 and lr 1e-3 (before: losses 10.6638/10.7725/10.2892, norms 11.6791/2.8562/1.2242).
  ibot: { losses: [9.159174919128418, 8.401198387145996, 7.526359558105469], gradNorms: [35.70838165283203, 15.762160301208496, 11.848332405090332] },
  mae: { losses: [2.6445441246032715, 3.7575902938842773, 2.0050697326660156], gradNorms: [22.633834838867188, 25.269365310668945, 11.951889038085938] },
  maskco: { losses: [4.968771934509277, 4.327597618103027, 4.099639892578125], gradNorms: [15.912081718444824, 8.317024230957031, 2.9875972270965576] },
  mfm: { losses: [0.19276054203510284, 0.13548901677131653, 0.10326041281223297], gradNorms: [0.5967352986335754, 0.4406876862049103, 0.4109717309474945] },
  moca: { losses: [7.169229507446289, 7.161697864532471, 1.1020102500915527], gradNorms: [65.1817398071289, 83.18375396728516, 13.337977409362793] },
  mocov3: { losses: [1.5512290000915527, 1.6963751316070557, 1.6036845445632935], gradNorms: [147.32298278808594, 76.47616577148438, 33.18447494506836] },
  moma: { losses: [0.45961621403694153, 0.2573434114456177, 0.21334537863731384], gradNorms: [1.7948839664459229, 0.9057582020759583, 0.7274947762489319] },
  simmim: { losses: [0.5577152967453003, 0.42325589060783386, 0.3035193681716919], gradNorms: [3.054551601409912, 3.056410074234009, 1.992770791053772] },
};

const sets = ['method.backbone=vit-micro/4', 'trainer.batchSize=8', 'trainer.seed=5', 'trainer.clipGradNorm=1e9', 'trainer.logEvery=1'];
const extraSets: Record<string, string[]> = { moca: ['method.numNewWords=8', 'method.numWords=64'] };
let dir = '';

async function run(method: string): Promise<{ losses: number[]; gradNorms: number[] }> {
  const config = resolveRunConfig({ method, sets: [...sets, ...(extraSets[method] ?? [])], budget: '3steps', dataset: { name: 'procedural', proceduralTrain: 64 } });
  const reporter = memoryReporter();
  const { result } = await runPretrain(config, await mkdtemp(join(dir, `${method}-`)), { reporter });
  return { losses: result.losses, gradNorms: reporter.records.map((r) => (r.metrics as Record<string, number>).gradNorm!) };
}

describe.skipIf(!native)(native ? 'pinned losses' : 'pinned losses (skipped: native TensorFlow backend not built: npm run setup:native)', () => {
  beforeAll(async () => {
    await initBackend({ prefer: 'tensorflow', log: null });
    dir = await mkdtemp(join(tmpdir(), 'maskedssl-pinned-'));
    const teacher = join(dir, 'teacher');
    await runPretrain(resolveRunConfig({ method: 'mae', sets, budget: '1steps', dataset: { name: 'procedural', proceduralTrain: 64 } }), teacher, { reporter: memoryReporter() });
    extraSets.moma = [`method.teachers=[{"checkpoint":"${teacher}"}]`];
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const method of methodNames()) {
    it(`${method}: the first three losses and gradient norms from seed 5 are the pinned ones`, async () => {
      const got = await run(method);
      console.log(`[pinned] ${method}: ${JSON.stringify(got)}`);
      const want = pinned[method];
      expect(want, `no pinned values for ${method}`).toBeDefined();
      expect(got.losses).toHaveLength(3);
      got.losses.forEach((v, i) => expect(Math.abs(v - want!.losses[i]!) / Math.abs(want!.losses[i]!)).toBeLessThan(tolerance));
      got.gradNorms.forEach((v, i) => expect(Math.abs(v - want!.gradNorms[i]!) / Math.abs(want!.gradNorms[i]!)).toBeLessThan(tolerance));
    });
  }
});
