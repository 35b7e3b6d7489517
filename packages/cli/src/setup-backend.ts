// The --backend flag (or MASKEDSSL_BACKEND) for every command that computes.
import { BackendName, initBackend, type BackendInfo } from '@maskedssl/core/node';
import { UsageError } from './errors.js';

export async function setupBackend(flag: string | undefined): Promise<BackendInfo> {
  if (flag !== undefined && !BackendName.safeParse(flag).success && flag !== 'auto') {
    throw new UsageError(`--backend: unknown backend '${flag}' (choose one of: auto, ${BackendName.options.join(', ')})`);
  }
  return initBackend(flag ? { prefer: flag as BackendName } : {});
}
