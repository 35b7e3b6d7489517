// `maskedssl setup native`: builds @tensorflow/tfjs-node's native binding for the project in the
// working directory, with the set-up script that ships in @maskedssl/core (scripts/setup-native.sh:
// pip's tensorflow-cpu C library in a venv, then node-pre-gyp), for machines where tfjs-node's own
// installer cannot download libtensorflow. Needs bash, python3 (with venv), a C++ toolchain and
// @tensorflow/tfjs-node installed in the project (an optional peer dependency of @maskedssl/core).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseFlags, type Options } from '../args.js';
import { UsageError } from '../errors.js';

export const setupHelp = `maskedssl setup native [options]: build the native TensorFlow backend (@tensorflow/tfjs-node)
  in the project of the working directory, against pip's tensorflow-cpu (a venv in the cache folder);
  needs bash, python3 with venv, g++/make, and 'npm install @tensorflow/tfjs-node@4.22.0' first.
  Exits 1 when the backend cannot be set up (maskedssl then runs on wasm); details in the log it names.
  --cache <dir>          the venv, built bindings and log (default ~/.cache/maskedssl; MASKEDSSL_CACHE)
  --gpu                  build @tensorflow/tfjs-node-gpu instead (with MASKEDSSL_TF_WHEEL a CUDA wheel)`;

export const setupFlags = { cache: { type: 'string' }, gpu: { type: 'boolean' } } satisfies Options;

/** The folder of the installed @maskedssl/core (its package.json), found from where it resolves. */
export function corePackageDir(): string {
  const require = createRequire(import.meta.url);
  let dir = dirname(require.resolve('@maskedssl/core'));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === '@maskedssl/core') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the folder of @maskedssl/core (is it installed?)');
    dir = up;
  }
}

export async function setupCommand(argv: string[]): Promise<number> {
  const [what, ...rest] = argv;
  if (what !== 'native') throw new UsageError(`${what === undefined ? 'name what to set up' : `unknown target '${what}'`}: the one target is 'native' (maskedssl setup native)`);
  const f = parseFlags(rest, setupFlags);
  const script = join(corePackageDir(), 'scripts', 'setup-native.sh');
  if (!existsSync(script)) throw new Error(`${script} is missing from @maskedssl/core`);
  const env = {
    ...process.env,
    MASKEDSSL_SETUP_STRICT: '1',
    ...(f.cache && { MASKEDSSL_CACHE: f.cache }),
    ...(f.gpu && { MASKEDSSL_TFJS_NODE: '@tensorflow/tfjs-node-gpu' }),
  };
  const r = spawnSync('bash', [script], { stdio: 'inherit', cwd: process.cwd(), env });
  if (r.error) throw new Error(`cannot run bash ${script}: ${r.error.message}`);
  return r.status ?? 1;
}
