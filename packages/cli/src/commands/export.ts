// `maskedssl export`: the backbone of a checkpoint in timm's VisionTransformer names and layouts, as
// safetensors (loads with timm.create_model(..., as documented in @maskedssl/core io/timm.ts)).
import { loadObjective, toTimmStateDict, writeSafetensorsFile } from '@maskedssl/core/node';
import { parseFlags, type Options } from '../args.js';
import { UsageError } from '../errors.js';
import { importHelp, importMethods } from '../methods.js';
import { backendHelp, setupBackend } from '../setup-backend.js';

export const exportHelp = `maskedssl export --checkpoint <dir> --out <model.safetensors> [options]
  --checkpoint <dir>     a run folder (its newest checkpoint) or one checkpoint folder
  --format timm          timm's VisionTransformer names and layouts (the only format, the default)
  --out <file>           the .safetensors file to write
${importHelp}
${backendHelp}`;

/** The flags `maskedssl export` accepts (its help lists each). */
export const exportFlags = { checkpoint: { type: 'string' }, format: { type: 'string' }, out: { type: 'string' }, import: { type: 'string', multiple: true }, backend: { type: 'string' } } satisfies Options;

export async function exportCommand(argv: string[]): Promise<number> {
  const f = parseFlags(argv, exportFlags);
  await importMethods(f.import);
  if (!f.checkpoint) throw new UsageError('--checkpoint is required');
  if (!f.out) throw new UsageError('--out is required (a .safetensors file)');
  const format = f.format ?? 'timm';
  if (format !== 'timm') throw new UsageError(`--format: '${format}' is not supported (supported: timm)`);
  await setupBackend(f.backend);
  const { objective, run, checkpoint } = await loadObjective(f.checkpoint);
  try {
    const { config, params } = objective.backbone();
    const dict = await toTimmStateDict(config, params);
    await writeSafetensorsFile(f.out, dict, {
      format: 'timm.VisionTransformer',
      vit_config: JSON.stringify(config),
      method: run.method,
      step: String(checkpoint.step),
    });
    const count = Object.values(dict).reduce((s, t) => s + t.data.length, 0);
    process.stdout.write(`${f.out}: ${Object.keys(dict).length} tensors, ${count} parameters (img_size=${config.imageSize}, patch_size=${config.patchSize}, in_chans=${config.inChannels}, embed_dim=${config.embedDim}, depth=${config.depth}, num_heads=${config.numHeads})\n`);
    return 0;
  } finally {
    objective.dispose();
  }
}
