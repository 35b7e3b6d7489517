import { mkdtemp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, vi } from 'vitest';
import { listCheckpoints, loadCheckpoint, saveCheckpoint } from '../src/node/checkpoint-dir.js';
import { useBackend } from './helpers.js';

const fsState = vi.hoisted(() => ({ failRename: false }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...real,
    rename: async (from: string, to: string) => {
      if (fsState.failRename) throw new Error('simulated crash before rename');
      return real.rename(from, to);
    },
  };
});

await useBackend();

const tmp = () => mkdtemp(join(tmpdir(), 'maskedssl-ckpt-'));
const tensors = (v: number) => ({ 'param/w': tf.fill([2, 3], v), 'optim/m/w': tf.fill([2, 3], v / 10), step: tf.scalar(v, 'int32') });

describe('checkpoints', () => {
  it('round-trips tensors and state, and keeps the newest K', async () => {
    const dir = await tmp();
    for (let step = 1; step <= 4; step++) await saveCheckpoint(dir, step * 10, tensors(step), { step: step * 10, note: 'x' }, { keep: 2 });
    expect((await listCheckpoints(dir)).map((c) => c.step)).toEqual([30, 40]);
    const c = await loadCheckpoint(dir); // the folder of checkpoints: newest
    expect(c.step).toBe(40);
    expect(c.state).toEqual({ step: 40, note: 'x' });
    expect(Array.from(c.tensors['param/w']!.data as Float32Array)).toEqual([4, 4, 4, 4, 4, 4]);
    expect(c.tensors['param/w']!.shape).toEqual([2, 3]);
    expect((await loadCheckpoint(join(dir, 'step-00000030'))).step).toBe(30);
  });

  it('a write that dies before its rename leaves the previous checkpoint intact and loadable', async () => {
    const dir = await tmp();
    await saveCheckpoint(dir, 1, tensors(1), { ok: true });
    fsState.failRename = true;
    await expect(saveCheckpoint(dir, 2, tensors(2), { ok: true })).rejects.toThrow(/writing checkpoint .*step-00000002: simulated crash/);
    fsState.failRename = false;
    expect((await loadCheckpoint(dir)).step).toBe(1);
    expect((await readdir(dir)).sort()).toEqual(['step-00000001']);
    // A leftover of a process killed mid-write is ignored by load and cleaned by the next save.
    await mkdir(join(dir, '.partial-step-00000005-dead'));
    await writeFile(join(dir, '.partial-step-00000005-dead', 'tensors.safetensors'), 'half a file');
    expect((await loadCheckpoint(dir)).step).toBe(1);
    await saveCheckpoint(dir, 6, tensors(6), {});
    expect((await readdir(dir)).sort()).toEqual(['step-00000001', 'step-00000006']);
  });

  it('refuses corrupt or foreign checkpoints with the folder and the reason', async () => {
    const dir = await tmp();
    const path = await saveCheckpoint(dir, 7, tensors(7), {});
    const file = join(path, 'tensors.safetensors');
    const bytes = await readFile(file);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    await writeFile(file, bytes);
    await expect(loadCheckpoint(path)).rejects.toThrow(/step-00000007: tensors.safetensors does not match the hash/);

    const path2 = await saveCheckpoint(dir, 8, tensors(8), {});
    await writeFile(join(path2, 'state.json'), '{"format": "maskedssl-checkpoint", "ver');
    await expect(loadCheckpoint(path2)).rejects.toThrow(/step-00000008: state.json is not valid JSON/);
    await writeFile(join(path2, 'state.json'), JSON.stringify({ format: 'other', version: 1 }));
    await expect(loadCheckpoint(path2)).rejects.toThrow(/state.json is not a maskedssl checkpoint \(format: /);

    await expect(loadCheckpoint(await tmp())).rejects.toThrow(/no checkpoint folder \(step-XXXXXXXX\) found/);
    const path3 = await saveCheckpoint(dir, 9, tensors(9), {});
    await writeFile(join(path3, 'tensors.safetensors'), '');
    await expect(loadCheckpoint(path3)).rejects.toThrow(/does not match the hash/);
  });
});
