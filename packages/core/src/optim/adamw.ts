// AdamW with decoupled weight decay, step for step the update of torch.optim.AdamW (default,
// non-amsgrad): p -= lr*wd*p, then the bias-corrected Adam step with eps added to sqrt(v_hat).
// Parameters come in groups (see param-groups.ts); each step takes the scheduled lr and weight decay,
// which a group may fix (a head at constant lr, no decay for biases) or scale (lrScale).
// All work runs in tf.tidy on the device: no readback. The moments of a group live in two flat
// variables (the group's parameters concatenated in order), so a step where every parameter of a group
// has a gradient and the same step count -- every step of an ordinary run -- updates the whole group
// with one expression over flat tensors (~15 ops plus the concat / split) instead of ~14 ops per
// parameter; otherwise parameters are updated one by one on slices of the flat moments.
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
  steps: number;
  /** Where the parameter sits in its group's flat moments. */
  offset: number;
}

interface Group {
  group: ParamGroup;
  names: string[];
  sizes: number[];
  /** Flat first and second moments of the group's parameters, in `names` order. */
  m: tf.Variable;
  v: tf.Variable;
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  private readonly groups: Group[] = [];
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
      let offset = 0;
      for (const name of names) {
        if (this.slots.has(name)) throw new Error(`AdamW: parameter '${name}' appears in more than one group`);
        const param = group.params[name]!;
        if (param.dtype !== 'float32') throw new Error(`AdamW: parameter '${name}' is ${param.dtype}, expected float32`);
        this.slots.set(name, { param, steps: 0, offset });
        offset += param.size;
      }
      const sizes = names.map((n) => group.params[n]!.size);
      const m = tf.tidy(() => tf.variable(tf.zeros([offset]), false));
      const v = tf.tidy(() => tf.variable(tf.zeros([offset]), false));
      this.groups.push({ group, names, sizes, m, v });
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
    tf.tidy(() => {
      for (const g of this.groups) this.stepGroup(g, grads, hyper);
    });
    this.stepCount++;
  }

  private stepGroup(g: Group, grads: Record<string, tf.Tensor>, hyper: StepHyper): void {
    const lr = g.group.lr ?? hyper.lr * (g.group.lrScale ?? 1);
    const wd = g.group.weightDecay ?? hyper.weightDecay;
    const slots = g.names.map((n) => this.slots.get(n)!);
    const present = g.names.map((n) => grads[n] !== undefined);
    if (!present.includes(true)) return;
    const flat = (t: tf.Tensor) => tf.reshape(t, [-1]);
    if (present.every((p) => p) && slots.every((s) => s.steps === slots[0]!.steps)) {
      const t = slots[0]!.steps + 1;
      const r = this.update(
        tf.concat(slots.map((s) => flat(s.param))),
        tf.concat(g.names.map((n) => flat(grads[n]!))),
        g.m,
        g.v,
        t,
        lr,
        wd,
      );
      const pieces = tf.split(r.p, g.sizes);
      slots.forEach((s, i) => {
        s.param.assign(tf.reshape(pieces[i]!, s.param.shape));
        s.steps = t;
      });
      g.m.assign(r.m);
      g.v.assign(r.v);
      return;
    }
    // Some parameters have no gradient (left alone, moments included) or step counts differ.
    const ms: tf.Tensor[] = [];
    const vs: tf.Tensor[] = [];
    slots.forEach((s, i) => {
      const m = tf.slice(g.m, s.offset, g.sizes[i]!);
      const v = tf.slice(g.v, s.offset, g.sizes[i]!);
      if (!present[i]) {
        ms.push(m);
        vs.push(v);
        return;
      }
      s.steps++;
      const r = this.update(flat(s.param), flat(grads[g.names[i]!]!), m, v, s.steps, lr, wd);
      s.param.assign(tf.reshape(r.p, s.param.shape));
      ms.push(r.m);
      vs.push(r.v);
    });
    g.m.assign(tf.concat(ms));
    g.v.assign(tf.concat(vs));
  }

  /** The AdamW update of flat tensors at step t, in the order of operations of torch's _single_tensor_adamw. */
  private update(p: tf.Tensor, grad: tf.Tensor, m: tf.Tensor, v: tf.Tensor, t: number, lr: number, wd: number) {
    const { beta1, beta2, eps } = this;
    const decayed = wd !== 0 ? tf.mul(p, 1 - lr * wd) : p;
    const mNew = tf.add(m, tf.mul(tf.sub(grad, m), 1 - beta1)); // exp_avg.lerp_(grad, 1 - beta1)
    const vNew = tf.add(tf.mul(v, beta2), tf.mul(tf.mul(grad, grad), 1 - beta2));
    const stepSize = lr / (1 - beta1 ** t);
    const denom = tf.add(tf.div(tf.sqrt(vNew), Math.sqrt(1 - beta2 ** t)), eps);
    return { p: tf.sub(decayed, tf.mul(tf.div(mNew, denom), stepSize)), m: mNew, v: vNew };
  }

  /** A snapshot for checkpoints. The tensors are the caller's (cheap clones): dispose them when written. */
  getState(): AdamWState {
    this.assertLive();
    const paramSteps: Record<string, number> = {};
    const moments: Record<string, tf.Tensor> = {};
    for (const g of this.groups) {
      g.names.forEach((name, i) => {
        const slot = this.slots.get(name)!;
        paramSteps[name] = slot.steps;
        const piece = (flat: tf.Variable) => tf.tidy(() => tf.reshape(tf.slice(flat, slot.offset, g.sizes[i]!), slot.param.shape));
        moments[`m/${name}`] = piece(g.m);
        moments[`v/${name}`] = piece(g.v);
      });
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
    for (const [name, slot] of this.slots) slot.steps = state.paramSteps[name]!;
    // The caller keeps (and may dispose) its tensors: the flat moments are new tensors.
    tf.tidy(() => {
      for (const g of this.groups) {
        if (g.names.length === 0) continue;
        g.m.assign(tf.concat(g.names.map((n) => tf.reshape(state.moments[`m/${n}`]!, [-1]))));
        g.v.assign(tf.concat(g.names.map((n) => tf.reshape(state.moments[`v/${n}`]!, [-1]))));
      }
    });
    this.stepCount = state.step;
  }

  /** Free the moment variables (the parameters belong to the model). */
  dispose(): void {
    if (this.disposed) return;
    for (const g of this.groups) {
      g.m.dispose();
      g.v.dispose();
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
