// Splits a model's variables into the two AdamW groups used by timm and MAE
// (timm.optim.param_groups_weight_decay, MAE's optim_factory.add_weight_decay): weight decay for
// matrices, none for biases, norm scales and the learned tokens/embeddings.
import type { VariableTree } from '../nn/params.js';
import type { ParamGroup } from './adamw.js';

/** Names excluded from weight decay by default; a parameter is excluded when its name ends with one. */
export const DEFAULT_NO_DECAY_NAMES: readonly string[] = ['pos_embed', 'cls_token', 'mask_token'];

export interface SplitDecayOptions {
  /** Replaces DEFAULT_NO_DECAY_NAMES. Matched as suffixes, so `pos_embed` also covers `decoder_pos_embed`. */
  noDecayNames?: readonly string[];
}

/**
 * `[decay, noDecay]` groups for AdamW. A trainable variable goes to `noDecay` (fixed weightDecay 0)
 * when its rank is <= 1 (biases, LayerNorm weights, scalars) or its name ends with one of the
 * no-decay names; every other trainable variable goes to `decay`, which follows the scheduled weight
 * decay. Non-trainable variables (e.g. fixed sin-cos position embeddings) are left out, as timm
 * skips parameters with requires_grad=False. Both groups use the scheduled lr.
 */
export function splitDecay(params: VariableTree, options: SplitDecayOptions = {}): [ParamGroup, ParamGroup] {
  const noDecayNames = options.noDecayNames ?? DEFAULT_NO_DECAY_NAMES;
  const decay: VariableTree = {};
  const noDecay: VariableTree = {};
  for (const [name, v] of Object.entries(params)) {
    if (!v.trainable) continue;
    if (v.rank <= 1 || noDecayNames.some((n) => name.endsWith(n))) noDecay[name] = v;
    else decay[name] = v;
  }
  return [{ params: decay }, { params: noDecay, weightDecay: 0 }];
}
