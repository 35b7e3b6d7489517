// The README's test command after set-up: typecheck and lint every package (nx, cached), then the
// whole vitest suite, closing with one plain line "N passed, N failed, N skipped".
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';

const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit' }).status ?? 1;

let status = run('npx', ['nx', 'run-many', '-t', 'typecheck', 'lint', '--outputStyle=static']);
// tests/ (cross-package) and bench/peers are not packages: check them here.
if (status === 0) status = run('npx', ['tsc', '-p', 'tests/tsconfig.json', '--noEmit']);
if (status === 0) status = run('npx', ['tsc', '-p', 'bench/peers/tsconfig.json', '--noEmit']);
if (status === 0) status = run('npx', ['eslint', 'tests', 'bench']);
if (status !== 0) {
  console.error('typecheck or lint failed');
  process.exit(status);
}
// The WebGPU tests need an adapter. Without a Vulkan driver of its own choosing, the suite uses the
// software one that Debian's chromium ships (SwiftShader): slow, but the same shaders a GPU runs.
const swiftshader = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && existsSync(swiftshader)) {
  process.env.VK_ICD_FILENAMES = swiftshader;
  console.log(`[test] WebGPU tests on SwiftShader (VK_ICD_FILENAMES=${swiftshader})`);
}
const results = '.vitest-results.json';
rmSync(results, { force: true });
status = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile=${results}`, ...process.argv.slice(2)]);
try {
  const r = JSON.parse(readFileSync(results, 'utf8'));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`\n${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
  if (r.numTotalTests === 0) status = status || 1;
} catch {
  console.error('no test results were written');
  status = status || 1;
}
process.exit(status);
