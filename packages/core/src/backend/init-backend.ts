// Picks and initialises the tfjs backend once per process. The automatic order: native TensorFlow with
// CUDA (@tensorflow/tfjs-node-gpu), WebGPU on a hardware adapter (webgpu.ts), native TensorFlow
// (@tensorflow/tfjs-node), wasm, then pure-JS cpu. A software WebGPU adapter (SwiftShader) is used only
// when asked for. The native packages and Dawn's `webgpu` are optional; `maskedssl setup native` (in this
// repository also `npm run setup:native`) builds tfjs-node's binding on machines where its own installer
// cannot download libtensorflow. In a browser
// the native backends report that they run only in Node, and WebGL joins the order before wasm.
// MASKEDSSL_BACKEND or `prefer` forces one.
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node build registers no gradient functions; the union package's Node build does (it is
// what tfjs-node loads too). Without this, training on wasm or cpu fails with "gradient function not
// found". Model code still uses only tfjs-core APIs.
import '@tensorflow/tfjs';
import { z } from 'zod';
import { importOptional, isNode } from '../util/runtime.js';
import { formatAdapter, probeWebGpu, registerWebGpu, type GpuAdapterReport } from './webgpu.js';

/** Every backend, in the automatic order. */
export const backendNames = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'webgl', 'wasm', 'cpu'] as const;
export const BackendName = z.enum(backendNames);
export type BackendName = z.infer<typeof BackendName>;

export interface BackendInfo {
  /** What was asked for (after MASKEDSSL_BACKEND). */
  requested: BackendName | 'auto';
  /** Our name for what runs. */
  name: BackendName;
  /** tfjs's name for it (`tensorflow` for both native variants). */
  tfjsName: string;
  /** Why each backend tried before it was skipped. */
  skipped: { name: BackendName; reason: string }[];
  /** The WebGPU adapter that computes (webgpu only). */
  adapter?: GpuAdapterReport;
}

let current: BackendInfo | undefined;

/**
 * Loads one backend's package and registers it with tfjs; throws with the reason when it cannot.
 * `explicit`: the user named this backend (a software WebGPU adapter is then accepted).
 */
async function load(name: BackendName, explicit: boolean): Promise<{ tfjsName: string; adapter?: GpuAdapterReport }> {
  switch (name) {
    case 'tensorflow-gpu':
    case 'tensorflow': {
      const pkg = name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
      if (!isNode) throw new Error('native TensorFlow runs only in Node');
      // TensorFlow's C++ start-up chatter (oneDNN, CPU features) unless the user asked for it.
      process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
      try {
        await importOptional(pkg);
      } catch (e) {
        const msg = (e as Error).message.split('\n')[0]!;
        if (msg.endsWith('is not installed')) throw e;
        throw new Error(`${pkg} is installed but its native binding does not load (${msg}); run 'maskedssl setup native'`);
      }
      return { tfjsName: 'tensorflow' };
    }
    case 'webgpu':
      return { tfjsName: 'webgpu', adapter: await registerWebGpu(explicit) };
    case 'webgl':
      if (!('document' in globalThis) && !('OffscreenCanvas' in globalThis)) throw new Error('WebGL exists only in browsers');
      await import('@tensorflow/tfjs-backend-webgl');
      return { tfjsName: 'webgl' };
    case 'wasm':
      await import('@tensorflow/tfjs-backend-wasm');
      return { tfjsName: 'wasm' };
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      return { tfjsName: 'cpu' };
  }
}

export interface InitBackendOptions {
  /** Force a backend (otherwise MASKEDSSL_BACKEND, otherwise the best available). */
  prefer?: BackendName | 'auto';
  /** Where the one-line choice is written (default: stderr). Pass null to stay silent. */
  log?: ((line: string) => void) | null;
}

/**
 * Initialise the best available backend (or the forced one) and return what was chosen.
 * Idempotent: later calls return the first choice unless a different backend is forced.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  const fromEnv = isNode ? process.env.MASKEDSSL_BACKEND : undefined;
  const raw = options.prefer ?? (fromEnv && fromEnv.length > 0 ? fromEnv : 'auto');
  const parsed = z.union([BackendName, z.literal('auto')]).safeParse(raw);
  if (!parsed.success) {
    const source = options.prefer !== undefined ? '--backend' : 'MASKEDSSL_BACKEND';
    throw new Error(`${source}: unknown backend '${raw}' (choose one of: auto, ${backendNames.join(', ')})`);
  }
  const requested = parsed.data;
  if (current && (requested === 'auto' || requested === current.name)) return current;

  const candidates: readonly BackendName[] = requested === 'auto' ? backendNames : [requested];
  const skipped: BackendInfo['skipped'] = [];
  for (const name of candidates) {
    try {
      const { tfjsName, adapter } = await load(name, requested !== 'auto');
      const ok = await tf.setBackend(tfjsName);
      if (!ok) throw new Error(`tf.setBackend('${tfjsName}') failed`);
      await tf.ready();
      current = { requested, name, tfjsName, skipped, ...(adapter ? { adapter } : {}) };
      const log = options.log === undefined ? (isNode ? (l: string) => process.stderr.write(l + '\n') : (l: string) => console.info(l)) : options.log;
      if (log) {
        const why = skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
        const on = adapter ? ` on ${formatAdapter(adapter)}` : '';
        log(`[maskedssl] backend: ${name}${on}${why ? ` (skipped ${why})` : ''}`);
      }
      return current;
    } catch (e) {
      skipped.push({ name, reason: (e as Error).message });
    }
  }
  throw new Error(`no usable tfjs backend: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

/** The backend chosen by initBackend, if any. */
export function currentBackend(): BackendInfo | undefined {
  return current;
}

/**
 * Which backends can be loaded in this process, in the automatic order (used by tests and benchmarks).
 * WebGPU is listed when it has an adapter, a software one included (it runs when named).
 */
export async function availableBackends(): Promise<BackendName[]> {
  return (await probeBackends()).filter((b) => b.available).map((b) => b.name);
}

export interface BackendProbe {
  name: BackendName;
  available: boolean;
  /** Why it is not available, or (WebGPU on a software adapter) why the automatic choice passes it over. */
  reason?: string;
  adapter?: GpuAdapterReport;
}

/** Every backend: whether it loads here, why not, and WebGPU's adapter. */
export async function probeBackends(): Promise<BackendProbe[]> {
  const out: BackendProbe[] = [];
  for (const name of backendNames) {
    try {
      const adapter = name === 'webgpu' ? await probeWebGpu() : (await load(name, true), undefined);
      const passedOver = adapter?.software ? 'software adapter: used only when asked for' : undefined;
      out.push({ name, available: true, ...(passedOver ? { reason: passedOver } : {}), ...(adapter ? { adapter } : {}) });
    } catch (e) {
      out.push({ name, available: false, reason: (e as Error).message });
    }
  }
  return out;
}
