// The browser entries of @maskedssl/core, @maskedssl/moca and @maskedssl/baselines bundle for the web:
// esbuild, platform 'browser', from the sources as a bundler resolves them. A Node built-in, a native
// module (tfjs-node, sharp, Dawn's webgpu) or a file of a package's Node entry in the output fails the
// build or this test, naming what pulled it in.
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('..', import.meta.url));
const nodeOnly = /^(node:|fs$|path$|os$|crypto$|zlib$|child_process$)|@tensorflow\/tfjs-node|(^|\/)node_modules\/(sharp|webgpu)\/|packages\/core\/src\/node(\.ts|\/)/;

/** Every input of the bundle and who imported it, from esbuild's metafile. */
function importers(meta: Metafile): Map<string, string[]> {
  const by = new Map<string, string[]>();
  for (const [file, input] of Object.entries(meta.inputs)) {
    for (const imp of input.imports) by.set(imp.path, [...(by.get(imp.path) ?? []), file]);
  }
  return by;
}

describe('browser bundle', () => {
  it('core, moca and baselines bundle for the browser with no Node built-in or native module', async () => {
    const result = await build({
      absWorkingDir: repo,
      stdin: {
        contents: "export * as core from '@maskedssl/core'; export * as moca from '@maskedssl/moca'; export * as baselines from '@maskedssl/baselines';",
        resolveDir: repo,
        loader: 'ts',
      },
      bundle: true,
      platform: 'browser',
      format: 'esm',
      conditions: ['maskedssl-source'],
      write: false,
      metafile: true,
      logLevel: 'silent',
    }).catch((e: { errors?: { text: string; location?: { file: string } | null }[] }) => {
      const errors = (e.errors ?? []).map((x) => `${x.location?.file ?? '?'}: ${x.text}`);
      throw new Error(`the browser bundle does not build:\n${errors.join('\n')}`);
    });
    const by = importers(result.metafile);
    const offending = [...new Set([...Object.keys(result.metafile.inputs), ...by.keys()])].filter((p) => nodeOnly.test(p));
    expect(offending.map((p) => `${p} (imported by ${(by.get(p) ?? ['?']).join(', ')})`)).toEqual([]);
    // It is the real thing: the ViT, the trainer, the methods and tfjs's browser backends are in it.
    const inputs = Object.keys(result.metafile.inputs).join('\n');
    for (const part of ['packages/core/src/vit/vit.ts', 'packages/core/src/train/trainer.ts', 'packages/moca/src/moca.ts', 'packages/baselines/src/mae.ts', 'tfjs-backend-webgpu', 'tfjs-backend-webgl', 'tfjs-backend-wasm']) {
      expect(inputs).toContain(part);
    }
    const bytes = result.outputFiles![0]!.contents.length;
    console.log(`[browser bundle] ${(bytes / 2 ** 20).toFixed(1)} MiB unminified, ${Object.keys(result.metafile.inputs).length} inputs`);
  });
});
