import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { availableBackends, initBackend, probeBackends } from '../src/backend/init-backend.js';

describe('initBackend', () => {
  it('picks the best available backend and logs the choice once', async () => {
    const lines: string[] = [];
    const info = await initBackend({ log: (l) => lines.push(l) });
    // The first that loads, passing over a software WebGPU adapter (SwiftShader), which runs only when named.
    const probes = await probeBackends();
    const expected = probes.find((p) => p.available && !p.adapter?.software)!;
    expect(info.name).toBe(expected.name);
    expect(tf.getBackend()).toBe(info.tfjsName);
    const webgpu = probes.find((p) => p.name === 'webgpu')!;
    if (webgpu.available && webgpu.adapter!.software && info.name !== 'tensorflow-gpu') {
      expect(info.skipped).toContainEqual({ name: 'webgpu', reason: expect.stringMatching(/the adapter is software .*used only when asked for/) });
    }
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

  it('lists every backend with the reason it is missing', async () => {
    const probes = await probeBackends();
    expect(probes.map((p) => p.name)).toEqual(['tensorflow-gpu', 'webgpu', 'tensorflow', 'webgl', 'wasm', 'cpu']);
    expect(probes.find((p) => p.name === 'cpu')!.available).toBe(true);
    for (const p of probes) if (!p.available) expect(p.reason, p.name).toMatch(/\w/);
    expect(await availableBackends()).toEqual(probes.filter((p) => p.available).map((p) => p.name));
  });

  it('reports why a forced missing backend cannot be used', async () => {
    const available = await availableBackends();
    if (available.includes('tensorflow-gpu')) return;
    await expect(initBackend({ prefer: 'tensorflow-gpu', log: null })).rejects.toThrow(/tfjs-node-gpu (is not installed|is installed but its native binding does not load)/);
  });
});
