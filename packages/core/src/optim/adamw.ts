// AdamW with decoupled weight decay, step for step the update of torch.optim.AdamW (default,
// non-amsgrad): p -= lr*wd*p, then the bias-corrected Adam step with eps added to sqrt(v_hat).
// Parameters come in groups (see param-groups.ts); each step takes the scheduled lr and weight decay,
// which a group may fix (a head at constant lr, no decay for biases) or scale (lrScale).
// All work runs in tf.tidy on the device: no readback, moments live in tf.Variables updated in place.
import * as tf from '@tensorflow/tfjs-core';
import type { VariableTree } from '../nn/params.js';

export interface ParamGroup {
  /** The variables this group updates (names must be unique across groups). */
  params: VariableTree;
  /** A fixed learning rate, used instead of the scheduled one. */
  lr?: number;
  /** Multiplies the scheduled learning rate (e.g. layer-wise lr decay). Not combinable with `lr`. */
  lrScale?: number;
  /** A fixed weight decay (0 for biases and norms), used instead of the scheduled one. */
  weightDecay?: number;
}

export interface AdamWOptions {
  betas?: [number, number];
  eps?: number;
}

/** Hyper-parameters of one step, usually read from schedules. */
export interface StepHyper {
  lr: number;
  weightDecay: number;
}

/**
 * Optimizer state for checkpoints. `moments` holds `m/<name>` and `v/<name>` for every parameter;
 * `paramSteps` counts the updates each parameter received (as torch's per-parameter `step`, so a
 * parameter skipped for a while, e.g. a frozen last layer, restarts its bias correction like torch).
 */
export interface AdamWState {
  /** Number of `step` calls. */
  step: number;
  paramSteps: Record<string, number>;
  moments: Record<string, tf.Tensor>;
}

interface Slot {
  param: tf.Variable;
  m: tf.Variable;
  v: tf.Variable;
  steps: number;
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  private readonly groups: { group: ParamGroup; names: string[] }[] = [];
  private readonly slots = new Map<string, Slot>();
  private stepCount = 0;
  private disposed = false;

  constructor(groups: ParamGroup[], options: AdamWOptions = {}) {
    const [beta1, beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    for (const [field, b] of [['betas[0]', beta1], ['betas[1]', beta2]] as const) {
      if (!(b >= 0 && b < 1)) throw new Error(`AdamW: ${field} must be in [0, 1), got ${b}`);
    }
    if (!(this.eps > 0)) throw new Error(`AdamW: eps must be > 0, got ${this.eps}`);
    this.beta1 = beta1;
    this.beta2 = beta2;

    groups.forEach((group, i) => {
      if (group.lr !== undefined && group.lrScale !== undefined) {
        throw new Error(`AdamW: group ${i} sets both lr and lrScale; use one`);
      }
      checkNonNegative(`group ${i} lr`, group.lr);
      checkNonNegative(`group ${i} lrScale`, group.lrScale);
      checkNonNegative(`group ${i} weightDecay`, group.weightDecay);
      const names = Object.keys(group.params);
      for (const name of names) {
        if (this.slots.has(name)) throw new Error(`AdamW: parameter '${name}' appears in more than one group`);
        const param = group.params[name]!;
        if (param.dtype !== 'float32') throw new Error(`AdamW: parameter '${name}' is ${param.dtype}, expected float32`);
        const m = tf.tidy(() => tf.variable(tf.zerosLike(param), false));
        const v = tf.tidy(() => tf.variable(tf.zerosLike(param), false));
        this.slots.set(name, { param, m, v, steps: 0 });
      }
      this.groups.push({ group, names });
    });
  }

  /** Number of `step` calls so far. */
  get steps(): number {
    return this.stepCount;
  }

  /**
   * One update of every parameter that has a gradient in `grads`; parameters without one are left
   * alone (value, moments and step count), as torch does for `grad is None`. Grads are not disposed.
   */
  step(grads: Record<string, tf.Tensor>, hyper: StepHyper): void {
    this.assertLive();
    checkNonNegative('lr', hyper.lr);
    checkNonNegative('weightDecay', hyper.weightDecay);
    for (const [name, g] of Object.entries(grads)) {
      const slot = this.slots.get(name);
      if (!slot) throw new Error(`AdamW.step: gradient for unknown parameter '${name}'`);
      if (!sameShape(g.shape, slot.param.shape)) {
        throw new Error(`AdamW.step: gradient for '${name}' has shape [${g.shape}], parameter has [${slot.param.shape}]`);
      }
    }
    const { beta1, beta2, eps } = this;
    tf.tidy(() => {
      for (const { group, names } of this.groups) {
        const lr = group.lr ?? hyper.lr * (group.lrScale ?? 1);
        const wd = group.weightDecay ?? hyper.weightDecay;
        for (const name of names) {
          const g = grads[name];
          if (!g) continue;
          const slot = this.slots.get(name)!;
          const t = ++slot.steps;
          // Same order of operations as torch's _single_tensor_adamw.
          const p = wd !== 0 ? tf.mul(slot.param, 1 - lr * wd) : slot.param;
          const m = tf.add(slot.m, tf.mul(tf.sub(g, slot.m), 1 - beta1)); // exp_avg.lerp_(grad, 1 - beta1)
          const v = tf.add(tf.mul(slot.v, beta2), tf.mul(tf.mul(g, g), 1 - beta2));
          const stepSize = lr / (1 - beta1 ** t);
          const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(1 - beta2 ** t)), eps);
          slot.param.assign(tf.sub(p, tf.mul(tf.div(m, denom), stepSize)));
          slot.m.assign(m);
          slot.v.assign(v);
        }
      }
    });
    this.stepCount++;
  }

  /** A snapshot for checkpoints. The tensors are the caller's (cheap clones): dispose them when written. */
  getState(): AdamWState {
    this.assertLive();
    const paramSteps: Record<string, number> = {};
    const moments: Record<string, tf.Tensor> = {};
    for (const [name, slot] of this.slots) {
      paramSteps[name] = slot.steps;
      moments[`m/${name}`] = slot.m.clone();
      moments[`v/${name}`] = slot.v.clone();
    }
    return { step: this.stepCount, paramSteps, moments };
  }

  /** Restore a snapshot from getState. Checks everything before changing anything; the caller keeps its tensors. */
  setState(state: AdamWState): void {
    this.assertLive();
    if (!Number.isInteger(state.step) || state.step < 0) {
      throw new Error(`AdamW.setState: step must be a non-negative integer, got ${state.step}`);
    }
    for (const key of Object.keys(state.moments)) {
      const name = key.slice(2);
      if (!(key.startsWith('m/') || key.startsWith('v/')) || !this.slots.has(name)) {
        throw new Error(`AdamW.setState: unexpected moment '${key}' (no such parameter in this optimizer)`);
      }
    }
    for (const name of Object.keys(state.paramSteps)) {
      if (!this.slots.has(name)) throw new Error(`AdamW.setState: paramSteps has unknown parameter '${name}'`);
    }
    for (const [name, slot] of this.slots) {
      const steps = state.paramSteps[name];
      if (steps === undefined || !Number.isInteger(steps) || steps < 0) {
        throw new Error(`AdamW.setState: paramSteps['${name}'] must be a non-negative integer, got ${steps}`);
      }
      for (const key of [`m/${name}`, `v/${name}`]) {
        const t = state.moments[key];
        if (!t) throw new Error(`AdamW.setState: missing moment '${key}' for parameter '${name}'`);
        if (!sameShape(t.shape, slot.param.shape) || t.dtype !== 'float32') {
          throw new Error(
            `AdamW.setState: moment '${key}' is ${t.dtype} [${t.shape}], parameter '${name}' is float32 [${slot.param.shape}]`,
          );
        }
      }
    }
    for (const [name, slot] of this.slots) {
      slot.steps = state.paramSteps[name]!;
      // assign shares the (immutable) data, so the caller may dispose its tensors afterwards.
      slot.m.assign(state.moments[`m/${name}`]!);
      slot.v.assign(state.moments[`v/${name}`]!);
    }
    this.stepCount = state.step;
  }

  /** Free the moment variables (the parameters belong to the model). */
  dispose(): void {
    if (this.disposed) return;
    for (const slot of this.slots.values()) {
      slot.m.dispose();
      slot.v.dispose();
    }
    this.disposed = true;
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('AdamW: used after dispose()');
  }
}

function checkNonNegative(field: string, x: number | undefined): void {
  if (x !== undefined && !(Number.isFinite(x) && x >= 0)) {
    throw new Error(`AdamW: ${field} must be a finite number >= 0, got ${x}`);
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
