#!/usr/bin/env node
// The `maskedssl` program as npm links it (node_modules/.bin/maskedssl). Installed from the registry
// it runs the built CLI (dist/main.js). In a checkout of the repository (src/ next to this file) it
// runs the sources through tsx, so `npx maskedssl` works right after `npm ci`, with no build, and never
// runs a stale one. This file is plain JavaScript: it exists before anything is built, which npm
// needs in order to link it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
const source = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const built = new URL('../dist/main.js', import.meta.url);

/** tsx's loader, when this is a checkout with its development dependencies installed. */
function tsxLoader() {
  if (!existsSync(source)) return undefined;
  try {
    return import.meta.resolve('tsx');
  } catch {
    return undefined;
  }
}

const loader = tsxLoader();
if (loader) {
  const child = spawn(process.execPath, ['--import', loader, '--conditions=maskedssl-source', source, ...argv], { stdio: 'inherit' });
  // Ctrl-C reaches the child too (same process group); a signal sent to this process is passed on.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('close', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
} else if (existsSync(built)) {
  const { runAsProgram } = await import(built.href);
  process.exit(await runAsProgram(argv));
} else {
  process.stderr.write(`maskedssl: ${fileURLToPath(built)} is missing: build the CLI first (npm run build)\n`);
  process.exit(1);
}
