import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { availableBackends, initBackend } from '../src/backend/init-backend.js';

describe('initBackend', () => {
  it('picks the best available backend and logs the choice once', async () => {
    const lines: string[] = [];
    const info = await initBackend({ log: (l) => lines.push(l) });
    const available = await availableBackends();
    expect(info.name).toBe(available[0]);
    expect(tf.getBackend()).toBe(info.tfjsName);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`backend: ${info.name}`);
    // A second call with no preference keeps the choice and does not log again.
    await initBackend({ log: (l) => lines.push(l) });
    expect(lines).toHaveLength(1);
  });

  it('can be forced, and names the bad value', async () => {
    const info = await initBackend({ prefer: 'cpu', log: null });
    expect(info.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    await expect(initBackend({ prefer: 'tpu' as never, log: null })).rejects.toThrow(/--backend: unknown backend 'tpu'/);
    process.env.MASKEDSSL_BACKEND = 'gpu-please';
    await expect(initBackend({ log: null })).rejects.toThrow(/MASKEDSSL_BACKEND: unknown backend 'gpu-please'/);
    delete process.env.MASKEDSSL_BACKEND;
  });

  it('reports why a forced missing backend cannot be used', async () => {
    const available = await availableBackends();
    if (available.includes('tensorflow-gpu')) return;
    await expect(initBackend({ prefer: 'tensorflow-gpu', log: null })).rejects.toThrow(/tfjs-node-gpu is not installed/);
  });
});
