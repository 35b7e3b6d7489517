// The WebGPU backend: in browsers through `navigator.gpu`, in Node through Dawn's binding (the optional
// npm package `webgpu`). We request the adapter ourselves so that what we report (vendor, architecture,
// description, limits, software or hardware) is the adapter that computes, and so that a software
// adapter (SwiftShader, llvmpipe, WARP, or one that says it is a fallback) is refused unless asked for.
// The device gets the adapter's own buffer and binding limits (tfjs kernels bind one storage buffer per
// input, and WebGPU's default of 8 per stage is low). Validation errors and a lost device, which WebGPU
// reports asynchronously and which would otherwise leave wrong numbers behind, are kept and thrown by
// `assertWebGpuHealthy` (the trainer calls it after every step).
import * as tf from '@tensorflow/tfjs-core';
import { importOptional, isNode } from '../util/runtime.js';
import { correctWebGpuMatMul } from './webgpu-matmul.js';

/** What we report about a WebGPU adapter. */
export interface GpuAdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A software rasteriser (SwiftShader, llvmpipe, WARP) or an adapter that says it is a fallback. */
  software: boolean;
  /** The limits that bound what we can run: the largest buffer and storage binding, bindings per shader. */
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number; maxStorageBuffersPerShaderStage: number };
}

// The slice of the WebGPU API we use (declared here: core's types must not need a DOM lib or the
// optional `webgpu` package to compile).
interface GpuAdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}
interface GpuDeviceLike {
  lost: Promise<{ reason?: string; message?: string }>;
  onuncapturederror: ((event: { error: { message: string } }) => void) | null;
  destroy(): void;
}
interface GpuAdapterLike {
  info?: GpuAdapterInfoLike;
  isFallbackAdapter?: boolean;
  limits: Record<string, number>;
  requestDevice(descriptor: { requiredLimits: Record<string, number> }): Promise<GpuDeviceLike>;
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<GpuAdapterLike | null>;
}

/** The device limits we raise to the adapter's (tfjs's kernels want the large buffers and bindings). */
const raisedLimits = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxComputeWorkgroupSizeX',
  'maxComputeInvocationsPerWorkgroup',
] as const;

const softwareNames = /swiftshader|llvmpipe|lavapipe|softpipe|software|warp|basic render/i;

/** What to tell a Linux user whose Node process finds no adapter. */
const linuxHint = "Vulkan found no usable GPU: install libvulkan1 and the GPU's Vulkan driver";

let gpuEntry: GpuLike | undefined;

/** navigator.gpu, installing Dawn's in Node first (once per process). */
async function gpu(): Promise<GpuLike> {
  if (gpuEntry) return gpuEntry;
  const nav = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator;
  if (nav?.gpu) return (gpuEntry = nav.gpu);
  if (!isNode) throw new Error('this browser has no WebGPU (navigator.gpu is missing)');
  let dawn: { create(flags: string[]): GpuLike; globals: Record<string, unknown> };
  try {
    dawn = (await importOptional('webgpu')) as typeof dawn;
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    throw new Error(`Dawn's WebGPU for Node, the optional package 'webgpu', does not load: ${msg}`);
  }
  // tfjs's WebGPU backend reads navigator.gpu and the GPUBufferUsage / GPUMapMode / GPUShaderStage globals.
  for (const [k, v] of Object.entries(dawn.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  const entry = dawn.create([]);
  if (typeof (globalThis as { navigator?: unknown }).navigator !== 'object') {
    Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
  }
  Object.defineProperty((globalThis as unknown as { navigator: object }).navigator, 'gpu', { value: entry, configurable: true });
  return (gpuEntry = entry);
}

function describe(adapter: GpuAdapterLike): GpuAdapterReport {
  const info = adapter.info ?? {};
  const text = (v: string | undefined) => v ?? '';
  const names = [info.vendor, info.architecture, info.device, info.description].map(text);
  return {
    vendor: names[0]!,
    architecture: names[1]!,
    device: names[2]!,
    description: names[3]!,
    software: info.isFallbackAdapter === true || adapter.isFallbackAdapter === true || names.some((n) => softwareNames.test(n)),
    limits: {
      maxBufferSize: adapter.limits.maxBufferSize ?? 0,
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize ?? 0,
      maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage ?? 0,
    },
  };
}

/**
 * One line naming an adapter, e.g. "google swiftshader (SwiftShader driver 5.0.0, software; max buffer
 * 1024 MiB, ...)"; `limits: false` leaves the limits out.
 */
export function formatAdapter(a: GpuAdapterReport, options: { limits?: boolean } = {}): string {
  const name = [a.vendor, a.architecture].filter(Boolean).join(' ') || 'unknown adapter';
  const detail = [a.description || a.device, a.software ? 'software' : 'hardware'].filter(Boolean).join(', ');
  if (options.limits === false) return `${name} (${detail})`;
  const mib = (n: number) => `${Math.round(n / 2 ** 20)} MiB`;
  return `${name} (${detail}; max buffer ${mib(a.limits.maxBufferSize)}, max storage binding ${mib(a.limits.maxStorageBufferBindingSize)}, ${a.limits.maxStorageBuffersPerShaderStage} storage buffers per shader)`;
}

async function requestAdapter(): Promise<GpuAdapterLike> {
  const adapter = await (await gpu()).requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error(`no WebGPU adapter${isNode && process.platform === 'linux' ? ` (${linuxHint})` : ''}`);
  return adapter;
}

/** The adapter WebGPU gives us (the registered one, once registered); throws saying why there is none. */
export async function probeWebGpu(): Promise<GpuAdapterReport> {
  return registered?.report ?? describe(await requestAdapter());
}

/** The adapter behind the registered backend (one per process). */
let registered: { report: GpuAdapterReport } | undefined;
let deviceError: string | undefined;

/**
 * Throws the first WebGPU validation error or device loss seen since the backend started (the numbers
 * computed since are not to be trusted). `where` goes into the message, e.g. "at step 12".
 */
export function assertWebGpuHealthy(where?: string): void {
  if (deviceError !== undefined) throw new Error(`WebGPU error${where ? ` ${where}` : ''}: ${deviceError}; results computed since are wrong`);
}

/**
 * Registers tfjs's WebGPU backend on the best adapter (once per process) and returns that adapter.
 * `allowSoftware: false` refuses a software adapter (the automatic choice); naming the backend allows it.
 */
export async function registerWebGpu(allowSoftware: boolean): Promise<GpuAdapterReport> {
  if (registered) return refuseSoftware(registered.report, allowSoftware);
  const adapter = await requestAdapter();
  const report = refuseSoftware(describe(adapter), allowSoftware);
  await register(adapter);
  registered = { report };
  return report;
}

function refuseSoftware(report: GpuAdapterReport, allowSoftware: boolean): GpuAdapterReport {
  if (report.software && !allowSoftware) {
    throw new Error(`the adapter is software (${formatAdapter(report)}); it is used only when asked for (--backend webgpu or MASKEDSSL_BACKEND=webgpu)`);
  }
  return report;
}

async function register(adapter: GpuAdapterLike): Promise<void> {
  // The package registers its kernels on import, and its own backend factory only where navigator.gpu
  // existed at that moment. Ours replaces it so that the device is made from the adapter we report.
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  correctWebGpuMatMul();
  const requiredLimits: Record<string, number> = {};
  for (const k of raisedLimits) if (typeof adapter.limits[k] === 'number') requiredLimits[k] = adapter.limits[k];
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', async () => {
    const device = await adapter.requestDevice({ requiredLimits });
    device.onuncapturederror = (event) => {
      deviceError ??= event.error.message.split('\n')[0];
    };
    void device.lost.then((lost) => {
      if (lost.reason !== 'destroyed') deviceError ??= `device lost (${lost.message ?? lost.reason ?? 'no reason given'})`;
    });
    // tfjs reads the adapter info for vendor-specific tuning (workgroup sizes).
    return new WebGPUBackend(device as never, adapter.info as never);
  });
}
