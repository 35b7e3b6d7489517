// `maskedssl info`: backend, every backend with why it is missing, the WebGPU adapter, versions, CPU,
// datasets and methods.
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { findFashionMnist, formatAdapter, listObjectives, probeBackends } from '@maskedssl/core/node';
import { parseFlags, type Options } from '../args.js';
import { importHelp, importMethods } from '../methods.js';
import { backendHelp, setupBackend } from '../setup-backend.js';

export const infoHelp = `maskedssl info [options]: the backend and why others are missing, versions, data, methods
${importHelp}
${backendHelp}`;

/** The flags `maskedssl info` accepts (its help lists each). */
export const infoFlags = { import: { type: 'string', multiple: true }, backend: { type: 'string' } } satisfies Options;

export async function infoCommand(argv: string[]): Promise<number> {
  const f = parseFlags(argv, infoFlags);
  await importMethods(f.import);
  const backend = await setupBackend(f.backend);
  const probes = await probeBackends();
  const cpus = os.cpus();
  let fashion: string;
  try {
    fashion = `found in ${findFashionMnist().dir}`;
  } catch {
    fashion = "not found (sudo apt-get install dataset-fashion-mnist, or see 'maskedssl eval --dataset fashion-mnist')";
  }
  const lines = [
    `backend:        ${backend.name}${backend.skipped.length ? ` (skipped: ${backend.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')})` : ''}`,
    ...(backend.adapter ? [`adapter:        ${formatAdapter(backend.adapter)}`] : []),
    'backends:',
    ...probes.map((p) => `  ${p.name.padEnd(15)} ${p.available ? 'yes' : 'no '}${p.adapter ? ` on ${formatAdapter(p.adapter)}` : ''}${p.reason ? ` (${p.reason})` : ''}`),
    `versions:       node ${process.version}, tfjs-core ${tf.version_core}`,
    `cpu:            ${cpus[0]?.model ?? 'unknown'} x ${cpus.length}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.platform()} ${os.arch()}`,
    `fashion-mnist:  ${fashion}`,
    `methods:        ${listObjectives().map((d) => d.name).join(', ') || 'none'}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
