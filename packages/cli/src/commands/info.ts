// `maskedssl info`: backend, versions, CPU/GPU, whether the native backend and datasets are present.
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { availableBackends, findFashionMnist, listObjectives } from '@maskedssl/core';
import { parseFlags } from '../args.js';
import { setupBackend } from '../setup-backend.js';

export const infoHelp = `maskedssl info [--backend <name>]`;

export async function infoCommand(argv: string[]): Promise<number> {
  const f = parseFlags(argv, { backend: { type: 'string' } });
  const backend = await setupBackend(f.backend);
  const available = await availableBackends();
  const cpus = os.cpus();
  let fashion: string;
  try {
    fashion = `found in ${findFashionMnist().dir}`;
  } catch {
    fashion = "not found (sudo apt-get install dataset-fashion-mnist, or see 'maskedssl eval --dataset fashion-mnist')";
  }
  const lines = [
    `backend:        ${backend.name}${backend.skipped.length ? ` (skipped: ${backend.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')})` : ''}`,
    `available:      ${available.join(', ')}`,
    `native:         ${available.includes('tensorflow') ? 'yes (@tensorflow/tfjs-node)' : "no: run 'npm run setup:native'"}; GPU: ${available.includes('tensorflow-gpu') ? 'yes (@tensorflow/tfjs-node-gpu)' : 'no'}`,
    `versions:       node ${process.version}, tfjs-core ${tf.version_core}`,
    `cpu:            ${cpus[0]?.model ?? 'unknown'} x ${cpus.length}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.platform()} ${os.arch()}`,
    `fashion-mnist:  ${fashion}`,
    `methods:        ${listObjectives().map((d) => d.name).join(', ') || 'none'}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
