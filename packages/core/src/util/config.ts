// Validating a config with its zod schema, with one error that names every bad field by its path
// (`steps[2].sigma: ...`), so a user sees everything wrong at once.
import type { z } from 'zod';

/** `path` as `prefix[2].scale[0]`. */
export function formatPath(prefix: string, path: readonly PropertyKey[]): string {
  let s = prefix;
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s.length > 0 ? `.${String(p)}` : String(p);
  return s.length > 0 ? s : '(root)';
}

/** Parses with `schema` or throws one error listing every issue with its field path. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, what: string, prefix = ''): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `${formatPath(prefix, i.path)}: ${i.message}`);
  throw new Error(`invalid ${what}: ${lines.join('; ')}`);
}
