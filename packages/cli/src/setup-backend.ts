// The --backend flag (or MASKEDSSL_BACKEND) for every command that computes.
import { BackendName, initBackend, type BackendInfo } from '@maskedssl/core/node';
import { UsageError } from './errors.js';

/** The help line of --backend, shared by every command that computes. */
export const backendHelp = `  --backend <name>       ${BackendName.options.slice(0, -1).join(', ')} or ${BackendName.options.at(-1)} (default: the best available)`;

export async function setupBackend(flag: string | undefined): Promise<BackendInfo> {
  if (flag !== undefined && !BackendName.safeParse(flag).success && flag !== 'auto') {
    throw new UsageError(`--backend: unknown backend '${flag}' (choose one of: auto, ${BackendName.options.join(', ')})`);
  }
  return initBackend(flag ? { prefer: flag as BackendName } : {});
}
