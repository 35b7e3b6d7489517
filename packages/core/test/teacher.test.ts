// The EMA teacher: frozen copies, the momentum update on hand numbers, validation, no gradients, no leaks.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeVariable, type VariableTree } from '../src/nn/params.js';
import { EmaTeacher } from '../src/teacher/index.js';
import { toArray, useBackend } from './helpers.js';

beforeAll(async () => {
  await useBackend();
});

function student(w: number[], b: number[]): VariableTree {
  return {
    'head.weight': makeVariable('student', 'head.weight', [w.length], Float32Array.from(w)),
    'head.bias': makeVariable('student', 'head.bias', [b.length], Float32Array.from(b)),
  };
}

const values = (t: tf.Tensor) => Array.from(toArray(t));

describe('EmaTeacher', () => {
  it('starts as a frozen copy of the student', () => {
    const s = student([1, 2], [3]);
    const teacher = new EmaTeacher(s);
    expect(Object.keys(teacher.params).sort()).toEqual(['head.bias', 'head.weight']);
    expect(values(teacher.params['head.weight']!)).toEqual([1, 2]);
    expect(Object.values(teacher.params).every((v) => !v.trainable)).toBe(true);
    expect(teacher.params['head.weight']!.name).toMatch(/^teacher\/head\.weight\//);
    // A copy, not an alias: changing the student leaves the teacher alone.
    s['head.weight']!.assign(tf.tensor1d([7, 7]));
    expect(values(teacher.params['head.weight']!)).toEqual([1, 2]);
    teacher.dispose();
    tf.dispose(s);
  });

  it('updates teacher = m * teacher + (1 - m) * student (hand numbers, repeated)', () => {
    const teacher = new EmaTeacher(student([1, 2], [0]));
    const s = student([11, -8], [5]);
    teacher.update(s, 0.9);
    // 0.9 * 1 + 0.1 * 11 = 2, 0.9 * 2 + 0.1 * (-8) = 1, 0.9 * 0 + 0.1 * 5 = 0.5
    expect(values(teacher.params['head.weight']!)[0]).toBeCloseTo(2, 6);
    expect(values(teacher.params['head.weight']!)[1]).toBeCloseTo(1, 6);
    expect(values(teacher.params['head.bias']!)[0]).toBeCloseTo(0.5, 6);
    teacher.update(s, 0.9);
    teacher.update(s, 0.9);
    // After n updates towards a fixed s: s + 0.9^n (t0 - s); n = 3: 11 - 0.729 * 10, -8 + 0.729 * 10, 5 - 0.729 * 5.
    const w = values(teacher.params['head.weight']!);
    expect(w[0]).toBeCloseTo(3.71, 5);
    expect(w[1]).toBeCloseTo(-0.71, 5);
    expect(values(teacher.params['head.bias']!)[0]).toBeCloseTo(1.355, 5);
    // m = 1 keeps the teacher, m = 0 copies the student.
    teacher.update(s, 1);
    expect(values(teacher.params['head.weight']!)[0]).toBeCloseTo(3.71, 5);
    teacher.update(s, 0);
    expect(values(teacher.params['head.weight']!)).toEqual([11, -8]);
    teacher.dispose();
    tf.dispose(s);
  });

  it('refuses a student with other names or shapes, naming the parameter, and a bad momentum', () => {
    const teacher = new EmaTeacher(student([1, 2], [0]));
    const wrongShape = student([1, 2, 3], [0]);
    expect(() => teacher.update(wrongShape, 0.9)).toThrow(/parameter 'head\.weight' has shape \[3\] in the student, \[2\] in the teacher/);
    const right = student([1, 2], [0]);
    const missing = { 'head.weight': right['head.weight']! };
    expect(() => teacher.update(missing, 0.9)).toThrow(/teacher parameter 'head\.bias' is missing from the student/);
    const extra = { ...student([1, 2], [0]), 'head.scale': tf.scalar(1) };
    expect(() => teacher.update(extra, 0.9)).toThrow(/student parameter 'head\.scale' has no teacher counterpart/);
    expect(() => teacher.update(extra, 1.5)).toThrow(/momentum must be in \[0, 1\], got 1\.5/);
    // Nothing was changed by the refused calls.
    expect(values(teacher.params['head.weight']!)).toEqual([1, 2]);
    teacher.dispose();
    tf.dispose([wrongShape, extra, right]);
  });

  it('never receives gradients', () => {
    const s = student([1, 2], [3]);
    const teacher = new EmaTeacher(s);
    const t = teacher.params;
    const loss = () => tf.sum(tf.add(tf.mul(s['head.weight']!, t['head.weight']!), tf.mul(s['head.bias']!, t['head.bias']!))) as tf.Scalar;
    // All trainable variables: the student's only.
    const all = tf.variableGrads(loss);
    expect(all.grads[s['head.weight']!.name]).toBeDefined();
    expect(all.grads[t['head.weight']!.name]).toBeUndefined();
    expect(values(all.grads[s['head.weight']!.name]!)).toEqual([1, 2]); // d/ds = teacher values
    // Asking for the teacher's variables explicitly gives null gradients for them.
    const explicit = tf.variableGrads(loss, [s['head.weight']!, t['head.weight']!, t['head.bias']!]);
    expect(explicit.grads[t['head.weight']!.name]).toBeNull();
    expect(explicit.grads[t['head.bias']!.name]).toBeNull();
    tf.dispose([all.value, explicit.value, ...Object.values(all.grads), explicit.grads[s['head.weight']!.name]!]);
    teacher.dispose();
    tf.dispose(s);
  });

  it('keeps the tensor count across 20 updates and disposes its variables', () => {
    const s = student([1, 2, 3, 4], [0]);
    const teacher = new EmaTeacher(s);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) teacher.update(s, 0.99);
    expect(tf.memory().numTensors).toBe(before);
    const vars = Object.values(teacher.params);
    teacher.dispose();
    expect(vars.every((v) => v.isDisposed)).toBe(true);
    expect(tf.memory().numTensors).toBe(before - 2);
    expect(s['head.weight']!.isDisposed).toBe(false);
    tf.dispose(s);
  });
});
