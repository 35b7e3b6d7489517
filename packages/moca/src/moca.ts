// MOCA as a core Objective: masked views of an image predict the online-codebook assignments that an
// EMA teacher gives the unmasked views (Gidaris et al., TMLR 2024; reference code valeoai/MOCA).
// One step:
//   teacher  each view's final-LN patch tokens (both views in one pass, off the gradient tape, with the
//            fused inference ops) -> codes with the pre-update codebook and
//            dist_norm_prev; bags of words of the interior; the codebook-usage perplexity.
//   student  both views stacked (2B images), two complementary masking rounds, both in one row per
//            image (each round attending only within itself); per round the
//            encoder sees its visible positions only; the image embedding (mean of its final-LN tokens)
//            predicts the OTHER view's bag of words (image head); the decoder on [embedding,
//            LN(early-block tokens)] + mask tokens at the shared masked set predicts the SAME view's
//            codes at every position it holds (token head). Both heads' prototypes are generated
//            once per step from the pre-update codebook.
//   loss     imageWeight * image + tokenWeight * token, each the mean over rounds times 2.
//   after    the codebook takes the new words drawn during the loss (teacher tokens of one view) and
//            the two per-view dist_norm statistics, then the teacher moves towards the student.
// The new words and statistics are the only tensors loss() keeps (tf.keep) for afterStep; the next
// loss() or dispose() frees them if a step is abandoned.
import * as tf from '@tensorflow/tfjs-core';
import {
  asymmetricPair,
  createVit,
  EmaTeacher,
  gatherTokens,
  gridSize,
  klDivergence,
  numPatches,
  prefixed,
  segmentPatchTokens,
  splitDecay,
  vitForward,
  type MaskedView,
  type MomentumPairs,
  type Objective,
  type ObjectiveContext,
  type ObjectiveDefinition,
  type ParamGroup,
  type Rng,
  type StepInfo,
  type VariableTree,
  type VitConfig,
  noGrad,
  vitConfigForImages,
} from '@maskedssl/core';
import { z } from 'zod';
import { bagOfWords, codebookPerplexity, gatherNewWords, interiorPositions, newWordIndices, OnlineCodebook } from './codebook.js';
import { checkGeometry, maskSizes, MocaConfig, mocaPresets, type MaskCounts } from './config.js';
import { createDecoder, decoderForward, type DecoderConfig } from './decoder.js';
import { createPrototypeGenerator, generatePrototypes, prototypeLogits } from './prototype-generator.js';
import { maskingRounds } from './rounds.js';

const OWNER = 'moca';

/** What a loss() leaves for the afterStep of the same step. */
type Pending = {
  /** [numNewWords, C] unit teacher tokens to enqueue. */
  words: tf.Tensor2D;
  /** [2] the per-view dist_norm statistics, in view order. */
  stats: tf.Tensor1D;
  perplexity: tf.Scalar;
};

const MocaState = z.object({ codebookPointer: z.number().int().nonnegative(), collapseWarned: z.boolean().optional() });

export class MocaObjective implements Objective {
  readonly name = 'moca';
  readonly views;
  readonly vit: VitConfig;
  readonly sizes: MaskCounts;
  readonly decoderConfig: DecoderConfig;
  readonly student: VariableTree;
  readonly teacher: EmaTeacher;
  readonly decoder: VariableTree;
  readonly imageHead: VariableTree;
  readonly tokenHead: VariableTree;
  readonly codebook: OnlineCodebook;
  private readonly grid: number;
  private readonly numTokens: number;
  private readonly interior: Int32Array;
  /** Index of the block the decoder reads (depth - 1 - earlyLayer), or null for the final tokens. */
  private readonly earlyBlock: number | null;
  private pending: Pending | null = null;
  private collapseWarned = false;

  constructor(
    readonly config: MocaConfig,
    context: ObjectiveContext,
  ) {
    const c = config;
    this.vit = vitConfigForImages(c.backbone, c.backboneOverrides, context.imageShape, 'moca');
    const ch = context.imageShape[2];
    checkGeometry(c, this.vit);
    if (c.numNewWords > context.batchSize) {
      throw new Error(`moca: numNewWords ${c.numNewWords} exceeds the batch size ${context.batchSize} (each new word comes from a distinct image)`);
    }
    this.grid = gridSize(this.vit);
    this.numTokens = numPatches(this.vit);
    this.interior = interiorPositions(this.grid, c.skipOffset);
    this.sizes = maskSizes(c, this.numTokens);
    this.earlyBlock = c.earlyLayer > 0 ? this.vit.depth - 1 - c.earlyLayer : null;
    const { view1, view2 } = asymmetricPair({ channels: ch });
    this.views = [view1, view2] as const;

    const rng = context.rng;
    const d = this.vit.embedDim;
    this.student = createVit(this.vit, rng, `${OWNER}-student`).params;
    this.teacher = new EmaTeacher(this.student, `${OWNER}-teacher`);
    this.decoderConfig = {
      inDim: d,
      embedDim: c.decoderEmbedDim,
      depth: c.decoderDepth,
      numHeads: c.decoderNumHeads,
      grid: this.grid,
      mlpRatio: this.vit.mlpRatio,
      layerNormEps: this.vit.layerNormEps,
    };
    this.decoder = createDecoder(this.decoderConfig, rng, OWNER);
    const hiddenDim = Math.floor(d * c.predMlpRatio);
    this.imageHead = createPrototypeGenerator('image_head', { inDim: d, hiddenDim, outDim: d, skip: 'identity' }, rng, OWNER);
    this.tokenHead = createPrototypeGenerator('token_head', { inDim: d, hiddenDim, outDim: c.decoderEmbedDim, skip: 'linear' }, rng, OWNER);
    this.codebook = new OnlineCodebook(rng, c.numWords, d, OWNER, c.distNormDecay);
  }

  /**
   * AdamW groups as the reference's: encoder + decoder at the scheduled lr and weight decay (none for
   * rank <= 1 tensors; the class and mask tokens are decayed, as there), and the two prototype
   * generators at the constant lrWgen with weightDecayWgen (0 for their rank <= 1 tensors).
   */
  paramGroups(): ParamGroup[] {
    const noNames = { noDecayNames: [] };
    const main = splitDecay({ ...prefixed('encoder.', this.student), ...this.decoder }, noNames);
    const [genDecay, genNoDecay] = splitDecay({ ...this.imageHead, ...this.tokenHead }, noNames);
    return [
      ...main,
      { params: genDecay.params, lr: this.config.lrWgen, weightDecay: this.config.weightDecayWgen },
      { params: genNoDecay.params, lr: this.config.lrWgen, weightDecay: 0 },
    ];
  }

  variables(): VariableTree {
    return {
      ...prefixed('encoder.', this.student),
      ...prefixed('teacher.', this.teacher.params),
      ...this.decoder,
      ...this.imageHead,
      ...this.tokenHead,
      ...this.codebook.variables(),
    };
  }

  /** Shape [B, L, D]: the patch tokens (class token dropped) of a ViT output. */
  private patchTokens(tokens: tf.Tensor3D): tf.Tensor3D {
    return tf.slice(tokens, [0, 1, 0], [-1, -1, -1]);
  }

  loss(views: tf.Tensor4D[], _info: StepInfo, rng: Rng): { loss: tf.Scalar; metrics: Record<string, tf.Scalar> } {
    if (views.length !== 2) throw new Error(`moca: loss expects 2 views, got ${views.length}`);
    const [v1, v2] = views as [tf.Tensor4D, tf.Tensor4D];
    const c = this.config;
    const b = v1.shape[0];
    if (b < c.numNewWords) throw new Error(`moca: numNewWords ${c.numNewWords} exceeds the batch of ${b} images`);

    // Teacher: both views in one pass; codes of every patch token, bags of words of the interior
    // (pre-update codebook), one dist_norm statistic per view.
    // All of it is off the gradient tape (targets only), so the teacher runs the fused inference ops.
    const x = tf.concat([v1, v2], 0);
    const { teacherTokens, assigned, crossBows, perplexity } = noGrad(() => {
      const teacherTokens = this.patchTokens(vitForward(this.vit, this.teacher.params, x, { inference: true }).tokens); // [2B, L, C]
      const assigned = this.codebook.assign(teacherTokens, c.invDelta, 2);
      const bows = bagOfWords(assigned.codes, this.grid, c.skipOffset);
      const crossBows = tf.concat([tf.slice(bows, [b, 0], [b, -1]), tf.slice(bows, [0, 0], [b, -1])], 0); // view 1's rows predict view 2's bag, and back
      return { teacherTokens, assigned, crossBows, perplexity: codebookPerplexity(assigned.codes) };
    });
    const codes = assigned.codes; // same-view targets, [2B, L, K]

    // This step's codebook update, applied in afterStep: one view at random, distinct images.
    const source = rng.next() < 0.5 ? 0 : 1;
    const picked = newWordIndices(rng, b, this.numTokens, c.numNewWords, this.interior);
    const sourceTokens = tf.slice(teacherTokens, [source * b, 0, 0], [b, -1, -1]);
    this.setPending({
      words: tf.keep(gatherNewWords(sourceTokens, picked)),
      stats: tf.keep(assigned.distStat),
      perplexity: tf.keep(tf.clone(perplexity)),
    });

    // Student: two complementary rounds over both views (2B images), both rounds of an image in one
    // row ([cls, V1, cls, V2] for the encoder, [embedding, V1, M] + [embedding, V2, M] for the
    // decoder, each part attending within itself), so the encoder and the decoder each run once.
    // Prototypes are shared by the rounds.
    const rounds = maskingRounds(rng, 2 * b, this.numTokens, this.sizes);
    const dictionary = this.codebook.dictionary();
    const imageProtos = generatePrototypes('image_head', this.imageHead, dictionary);
    const tokenProtos = generatePrototypes('token_head', this.tokenHead, dictionary);
    const out = vitForward(this.vit, this.student, x, {
      keep: rounds.keep,
      segments: rounds.segments,
      collect: this.earlyBlock === null ? [] : [this.earlyBlock],
    });
    const finalTokens = segmentPatchTokens(this.vit, out.tokens, rounds.segments);
    const earlyTokens = this.earlyBlock === null ? finalTokens : segmentPatchTokens(this.vit, out.intermediates[0]!, rounds.segments);
    // The image embedding of a round: the mean of its final-LN tokens.
    const embeddings = finalTokens.map((t) => tf.mean(t, 1) as tf.Tensor2D);
    // Both rounds have 2B rows, so the mean over rounds times 2 is twice the mean over all 4B rows.
    const imageLogits = prototypeLogits(tf.concat(embeddings, 0), imageProtos, c.kappa);
    const imageLoss = tf.mul(klDivergence(tf.concat([crossBows, crossBows], 0), imageLogits), 2) as tf.Scalar;
    const decoded = decoderForward(
      this.decoderConfig,
      this.decoder,
      embeddings.map((embedding, r) => ({ embedding, early: earlyTokens[r]!, visible: rounds.visible[r]! })),
      rounds.masked,
    );
    const target = gatherTokens(codes, rounds.scored);
    const tokenLoss = klDivergence(target, prototypeLogits(decoded, tokenProtos, c.kappa), rounds.tokenWeights);
    const loss = tf.add(tf.mul(imageLoss, c.imageWeight), tf.mul(tokenLoss, c.tokenWeight)) as tf.Scalar;
    return {
      loss,
      metrics: { imageLoss, tokenLoss, codebookPerplexity: perplexity, distNorm: tf.reshape(this.codebook.distNormPrev, []) as tf.Scalar },
    };
  }

  /** The two masking rounds of each image, and the codeword the teacher assigns each token (the targets). */
  maskedView(images: tf.Tensor4D, rng: Rng): MaskedView {
    return noGrad(() =>
      tf.tidy(() => {
        const tokens = this.patchTokens(vitForward(this.vit, this.teacher.params, images, { inference: true }).tokens);
        const words = tf.cast(tf.argMax(this.codebook.assign(tokens, this.config.invDelta).codes, -1), 'int32') as tf.Tensor2D;
        const rounds = maskingRounds(rng, images.shape[0], this.numTokens, this.sizes);
        return {
          rounds: rounds.visible.map((visible, r) => ({ label: `round ${r + 1} sees ${visible.shape[1]} of ${this.numTokens}`, visible })),
          assignments: { words, numWords: this.config.numWords },
        };
      }),
    );
  }

  private setPending(p: Pending): void {
    if (this.pending) tf.dispose(this.pending);
    this.pending = p;
  }

  /**
   * The codebook update of the step (new words, dist_norm twice, dist_norm_prev), then the teacher's
   * EMA with momentum m(step + 1): the reference moves the teacher at the start of iteration s + 1
   * with m(s + 1), which is this same update, so the last step's (m = 1) is skipped as there.
   */
  afterStep(info: StepInfo): void {
    const p = this.pending;
    if (p) {
      this.codebook.update(p.words, p.stats);
      // The trainer has read every metric already, so this is no GPU round trip (and no synchronous
      // read, which WebGPU in Node cannot do).
      this.warnOnCollapse(p.perplexity.dataSync()[0]!, info.step);
      tf.dispose(p);
      this.pending = null;
    }
  }

  /** The teacher follows the student (the trainer applies the schedule after afterStep, see momentum.ts). */
  momentumPairs(): MomentumPairs {
    return { pairs: [{ student: this.student, teacher: this.teacher }], momentum: this.config.momentum, momentumEnd: this.config.momentumEnd };
  }

  private warnOnCollapse(perplexity: number, step: number): void {
    if (this.collapseWarned || !(perplexity < this.config.collapsePerplexity)) return;
    this.collapseWarned = true;
    console.warn(
      `moca: codebook usage perplexity ${perplexity.toFixed(3)} at step ${step} is below ${this.config.collapsePerplexity}: ` +
        `the teacher assigns almost every token to one word (collapse); check lr, alpha and invDelta`,
    );
  }

  /** The teacher, as the reference evaluates it. */
  backbone(): { config: VitConfig; params: VariableTree } {
    return { config: this.vit, params: this.teacher.params };
  }

  getState(): Record<string, unknown> {
    return { codebookPointer: this.codebook.pointer, collapseWarned: this.collapseWarned };
  }

  setState(state: Record<string, unknown>): void {
    const s = MocaState.parse(state);
    this.codebook.setState({ pointer: s.codebookPointer });
    this.collapseWarned = s.collapseWarned ?? false;
  }

  dispose(): void {
    if (this.pending) tf.dispose(this.pending);
    this.pending = null;
    tf.dispose([...Object.values(this.student), ...Object.values(this.decoder), ...Object.values(this.imageHead), ...Object.values(this.tokenHead)]);
    this.teacher.dispose();
    this.codebook.dispose();
  }
}

export const moca = {
  name: 'moca',
  summary:
    "MOCA (Gidaris et al., TMLR 2024): masked views predict an EMA teacher's soft assignments to an online codebook — the other view's bag of words and the same view's token codes",
  configSchema: MocaConfig,
  presets: mocaPresets,
  // The reference's optimiser (AdamW 0.9/0.999, wd cosine 0.05 -> 0.2, clip 0.1, warmup over 15% of
  // the run (its 30 of 200 epochs), then cosine) with an lr for minutes-long runs: its rule
  // 1.5e-4 * batch / 256 gives 1.9e-5 at batch 32, tuned for 200 ImageNet epochs; 1e-3 is what a
  // budget of a few thousand steps needs. Batch 32 (the smallest that 32 new words per step allow):
  // with vit-micro/4 on 2 cores it takes 1.75x the steps per minute of batch 64 for the same k-NN,
  // linear and low-shot figures after 20 minutes (package README, "Tuning").
  trainerPresets: {
    'fashion-mnist': { batchSize: 32, lr: 1e-3, minLr: 1e-5, warmup: 0.15, weightDecay: 0.05, weightDecayEnd: 0.2, betas: [0.9, 0.999], clipGradNorm: 0.1 },
  },
  create: (config, context) => new MocaObjective(config, context),
} satisfies ObjectiveDefinition<typeof MocaConfig>;
