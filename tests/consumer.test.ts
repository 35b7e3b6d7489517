// The packages as a user gets them: core, moca, baselines and cli built (tsup) and packed (npm pack),
// the four tarballs installed into an empty project outside the repository (their dependencies from
// the npm registry or its cache), then imported from ESM and CJS, typechecked against with the repo's
// tsc, and the installed `maskedssl` bin run (info, a 2-step pretrain). Without tfjs-node in that
// project the backend is wasm, which the test checks. Skipped, saying why, when npm cannot install.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('..', import.meta.url));
const packages = ['core', 'moca', 'baselines', 'cli'] as const;
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** The newest modification time under `dir` (0 when it does not exist). */
function newest(dir: string): number {
  if (!existsSync(dir)) return 0;
  const s = statSync(dir);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(s.mtimeMs, ...readdirSync(dir).map((n) => newest(join(dir, n))));
}

/** Builds (when dist is missing or older than src), packs and installs; the project folder, or why not. */
function prepare(): { project: string } | { skip: string } {
  for (const p of packages) {
    const dir = join(repo, 'packages', p);
    if (newest(join(dir, 'dist')) <= Math.max(newest(join(dir, 'src')), newest(join(dir, 'package.json')), newest(join(dir, 'tsup.config.ts')))) {
      execFileSync(process.execPath, [join(repo, 'node_modules/tsup/dist/cli-default.js')], { cwd: dir, stdio: 'pipe' });
    }
  }
  const root = mkdtempSync(join(tmpdir(), 'maskedssl-consumer-'));
  const tarballs = packages.map((p) => {
    const out = execFileSync(npm, ['pack', '--silent', '--ignore-scripts', '--pack-destination', root], { cwd: join(repo, 'packages', p), encoding: 'utf8' });
    return join(root, out.trim().split('\n').pop()!);
  });
  const project = join(root, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }, null, 2));
  const install = spawnSync(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs], { cwd: project, encoding: 'utf8' });
  if (install.status !== 0) {
    const why = (install.stderr || install.stdout).split('\n').find((l) => /ERR|error/.test(l)) ?? `exit ${install.status}`;
    return { skip: `npm install of the tarballs failed (no registry or cache?): ${why.trim().slice(0, 160)}` };
  }
  return { project };
}

const setup = prepare();
const project = 'project' in setup ? setup.project : '';

function run(cmd: string, args: string[], cwd = project) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, MASKEDSSL_VERBOSE: '', MASKEDSSL_BACKEND: '' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe.skipIf('skip' in setup)('skip' in setup ? `installed packages (skipped: ${setup.skip})` : 'installed packages', () => {
  it('import from ESM and CJS', () => {
    writeFileSync(
      join(project, 'esm.mjs'),
      `import * as core from '@maskedssl/core';
import * as node from '@maskedssl/core/node';
import * as moca from '@maskedssl/moca';
import * as baselines from '@maskedssl/baselines';
const names = (m) => Object.values(m).filter((v) => v && typeof v === 'object' && 'configSchema' in v).map((d) => d.name);
console.log(JSON.stringify({ vit: typeof core.createVit, fmnist: typeof node.loadFashionMnist, moca: names(moca), baselines: names(baselines) }));
`,
    );
    writeFileSync(
      join(project, 'cjs.cjs'),
      `const core = require('@maskedssl/core');
const node = require('@maskedssl/core/node');
const moca = require('@maskedssl/moca');
const baselines = require('@maskedssl/baselines');
const names = (m) => Object.values(m).filter((v) => v && typeof v === 'object' && 'configSchema' in v).map((d) => d.name);
console.log(JSON.stringify({ vit: typeof core.createVit, fmnist: typeof node.loadFashionMnist, moca: names(moca), baselines: names(baselines) }));
`,
    );
    for (const file of ['esm.mjs', 'cjs.cjs']) {
      const r = run(process.execPath, [file]);
      expect(r.code, `${file}: ${r.err}`).toBe(0);
      const got = JSON.parse(r.out.trim().split('\n').pop()!);
      expect(got.vit, file).toBe('function');
      expect(got.fmnist, file).toBe('function');
      expect(got.moca, file).toContain('moca');
      expect(got.baselines, file).toEqual(expect.arrayContaining(['mae', 'mocov3', 'simmim']));
    }
  });

  it('typechecks a TypeScript file against the installed types', () => {
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: [] }, files: ['check.mts'] }),
    );
    writeFileSync(
      join(project, 'check.mts'),
      `import { listObjectives, registerObjectivesOf, vitConfig, type ObjectiveDefinition, type VitConfig } from '@maskedssl/core';
import { loadFashionMnist, type Dataset } from '@maskedssl/core/node';
import * as baselines from '@maskedssl/baselines';
const config: VitConfig = vitConfig('vit-micro/4', { imageSize: 28, inChannels: 1 });
const width: number = config.embedDim;
const load: (split: 'train' | 'test') => Promise<Dataset> = (s) => loadFashionMnist(s);
registerObjectivesOf(baselines);
const defs: ObjectiveDefinition[] = listObjectives();
// @ts-expect-error: the types are real, so a wrong one is an error
const wrong: string = config.depth;
export { width, load, defs, wrong };
`,
    );
    const r = run(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json']);
    expect(r.code, r.out + r.err).toBe(0);
  });

  it('the installed maskedssl bin: info says wasm (no tfjs-node here), and a 2-step pretrain runs', () => {
    const bin = join(project, 'node_modules/.bin/maskedssl');
    const info = run(bin, ['info']);
    expect(info.code, info.err).toBe(0);
    expect(info.out).toMatch(/^backend: +wasm \(skipped: .*tensorflow: @tensorflow\/tfjs-node is not installed/);
    expect(info.out).toMatch(/\nmethods: +.*mae.*moca/);
    expect(info.err).not.toMatch(/absl::InitializeLog|XDG_RUNTIME_DIR|Warning: Vulkan/);
    const out = join(project, 'runs', 'mae');
    const p = run(bin, ['pretrain', '--method', 'mae', '--dataset', 'procedural', '--budget', '2', '--set', 'method.backbone=vit-micro/4', '--set', 'trainer.batchSize=4', '--out', out]);
    expect(p.code, p.err).toBe(0);
    expect(p.out).toMatch(/^mae: 2 steps in \d+s, last loss \d+\.\d+; checkpoint .*step-00000002/);
    expect(p.err).toMatch(/\[maskedssl\] backend: wasm/);
    const help = run(bin, ['setup', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^maskedssl setup native/);
  });
});
