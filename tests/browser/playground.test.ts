// The playground in a real browser (Debian's chromium through playwright-core): on wasm, webgl and
// WebGPU (SwiftShader), the page trains a few steps of MOCA and MAE in its worker, the status line and
// the plots update, the checkpoint it downloads loads in Node and gives the page's features, the Use
// tab classifies from a few labelled images, and the See tab draws MOCA's masking rounds.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import sharp from 'sharp';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { extractFeatures, findFashionMnist, initBackend, loadObjective, memoryReporter, readIdxFile, Uint8Dataset, vitFeatureFn } from '@maskedssl/core/node';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build, preview, type PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPretrain } from '../../packages/cli/src/commands/pretrain.js';
import { registerMethods } from '../../packages/cli/src/methods.js';
import { resolveRunConfig } from '../../packages/cli/src/run-config.js';

const chromiumPath = '/usr/bin/chromium';
const root = fileURLToPath(new URL('../../apps/playground', import.meta.url));
const sample = join(root, 'public/data/fashion-mnist-test-images.idx');
const shots = process.env.MASKEDSSL_SCREENSHOTS; // a folder: the README's screenshots are taken there

interface PageState {
  records: { step: number; loss: number; knn?: number; imgPerSec: number }[];
  done: boolean;
  error: string | null;
  backend: string | null;
  saved: { name: string; size: number } | null;
  loaded: { method: string; step: number } | null;
  features: { features: Record<string, number>; dim: number } | null;
  classified: { knnAccuracy?: number; logisticAccuracy?: number; shots: number } | null;
  masks: number;
  seen: { network: string | null; reconstruction: boolean; assignments: boolean } | null;
}
const read = (page: Page) => page.evaluate(() => (globalThis as unknown as { playground: PageState }).playground);

let browser: Browser;
let server: PreviewServer;
let url = '';
let dir = '';
const fashionMnist = (() => {
  try {
    return findFashionMnist().dir;
  } catch {
    return null;
  }
})();
const missing = !existsSync(chromiumPath) ? `no ${chromiumPath} (apt-get install chromium)` : !fashionMnist ? 'no Fashion-MNIST for the page\'s sample (apt-get install dataset-fashion-mnist)' : null;

describe.skipIf(missing !== null)(missing ? `playground in chromium (skipped: ${missing})` : 'playground in chromium', () => {
  beforeAll(async () => {
    registerMethods();
    await initBackend({ prefer: 'tensorflow', log: null });
    dir = await mkdtemp(join(tmpdir(), 'maskedssl-playground-'));
    // The page's Fashion-MNIST sample, as `npm run build` makes it (from Debian's dataset-fashion-mnist).
    const sampleRun = spawnSync(process.execPath, [join(root, 'scripts/make-sample.mjs')], { encoding: 'utf8', env: { ...process.env, MASKEDSSL_DATA: fashionMnist! } });
    if (sampleRun.status !== 0 || !existsSync(sample)) throw new Error(`the playground's Fashion-MNIST sample was not made: ${sampleRun.stdout}${sampleRun.stderr}`);
    await build({ root, logLevel: 'error', build: { outDir: join(dir, 'dist') } });
    server = await preview({ root, logLevel: 'error', build: { outDir: join(dir, 'dist') }, preview: { port: 0, host: '127.0.0.1' } });
    url = server.resolvedUrls!.local[0]!;
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
        '--enable-unsafe-swiftshader', '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function train(page: Page, method: string, backend: string, plan: Plan): Promise<PageState> {
    await page.selectOption('#method', method);
    await page.selectOption('#backend', backend);
    await page.fill('#budget', `${plan.steps}steps`);
    await page.fill('#batch', '32'); // MOCA's preset batch (its 32 new codewords come from distinct images)
    await page.fill('#knn-every', String(plan.knnEvery));
    await page.click('#start');
    await page.waitForFunction(() => {
      const s = (globalThis as unknown as { playground: PageState }).playground;
      return s.done || s.error !== null;
    }, undefined, { timeout: 240_000 });
    return read(page);
  }

  it("wasm: trains on the user's IDX files, pauses, resumes and stops", async () => {
    const page = await browser.newPage();
    page.on('pageerror', (e) => console.log(`[page] ${e.message}`));
    await page.goto(url);
    await page.selectOption('#dataset', 'idx');
    await page.setInputFiles('#idx-input', ['train-images', 'train-labels', 'test-images', 'test-labels'].map((f) => join(root, `public/data/fashion-mnist-${f}.idx`)));
    await page.selectOption('#method', 'mae');
    await page.selectOption('#backend', 'wasm');
    await page.fill('#budget', '500steps');
    await page.fill('#batch', '16');
    await page.fill('#knn-every', '0');
    await page.click('#start');
    const steps = () => read(page).then((s) => s.records.length);
    await page.waitForFunction(() => {
      const p = (globalThis as unknown as { playground: PageState }).playground;
      return p.records.length >= 2 || p.error !== null;
    });
    expect((await read(page)).error).toBeNull();
    await page.click('#pause');
    await page.waitForFunction(() => (globalThis as unknown as { document: { querySelector(s: string): { textContent: string } } }).document.querySelector('#status').textContent.endsWith('(paused)'));
    const paused = await steps();
    await page.waitForTimeout(1500);
    expect(await steps()).toBe(paused); // nothing trains while paused
    await page.click('#pause'); // now "Resume"
    await page.waitForFunction((n) => (globalThis as unknown as { playground: PageState }).playground.records.length > n, paused);
    await page.click('#stop');
    await page.waitForFunction(() => (globalThis as unknown as { playground: PageState }).playground.done);
    const s = await read(page);
    expect(s.error).toBeNull();
    expect(s.records.map((r) => r.step)).toEqual(Array.from({ length: s.records.length }, (_, i) => i)); // no step lost or repeated
    expect(s.records.length).toBeLessThan(500);
    expect(await page.textContent('#log')).toMatch(/done: \d+ steps in .* \(stop\)/);
    await page.close();
  });

  it("wasm: the Use tab loads a CLI checkpoint folder's two files and embeds as Node does", async () => {
    const run = join(dir, 'cli-run');
    const config = resolveRunConfig({ method: 'mae', sets: ['method.backbone=vit-micro/4', 'trainer.batchSize=8'], budget: '1steps', dataset: { name: 'procedural', proceduralTrain: 64, imageSize: 28 } });
    const { result } = await runPretrain(config, run, { reporter: memoryReporter() });
    const page = await browser.newPage();
    await page.goto(url);
    await page.click('nav button[data-tab="use"]');
    await page.selectOption('#use-backend', 'wasm');
    await page.setInputFiles('#ckpt-input', ['tensors.safetensors', 'state.json'].map((f) => join(result.checkpoint!, f)));
    await page.waitForFunction(() => {
      const p = (globalThis as unknown as { playground: PageState }).playground;
      return p.loaded !== null || p.error !== null;
    });
    expect((await read(page)).loaded).toEqual({ method: 'mae', step: 1 });
    await page.click('#embed');
    await page.waitForFunction(() => (globalThis as unknown as { playground: PageState }).playground.features !== null);
    const inPage = (await read(page)).features!;
    const { objective } = await loadObjective(run);
    const { config: vit, params } = objective.backbone();
    const images = new Uint8Dataset({ name: 'sample', imageShape: [28, 28, 1], pixels: (await readIdxFile(sample)).data, labels: null, numClasses: 0 });
    const inNode = await extractFeatures(images, vitFeatureFn(vit, params), { indices: [0, 1, 2, 3] });
    objective.dispose();
    const scale = Math.max(...inNode.features.map(Math.abs));
    inNode.features.forEach((v, i) => expect(Math.abs(v - inPage.features[i]!)).toBeLessThan(1e-4 * scale));
    await page.close();
  });

  it("wasm: trains on a folder of the user's images (decoded by the browser)", async () => {
    // Two class folders of 5 PNGs each, 40x32 RGB: the page scales them to cover 28x28 and makes them grey.
    const folder = join(dir, 'my-images');
    for (const [k, name] of ['cats', 'dogs'].entries()) {
      await mkdir(join(folder, name), { recursive: true });
      for (let i = 0; i < 5; i++) {
        const pixels = Buffer.alloc(40 * 32 * 3, (k * 100 + i * 20) % 256);
        await sharp(pixels, { raw: { width: 40, height: 32, channels: 3 } }).png().toFile(join(folder, name, `${i}.png`));
      }
    }
    const page = await browser.newPage();
    await page.goto(url);
    await page.selectOption('#dataset', 'folder');
    await page.setInputFiles('#folder-input', folder);
    await page.selectOption('#method', 'mae');
    await page.selectOption('#backend', 'wasm');
    await page.fill('#budget', '2steps');
    await page.fill('#batch', '4');
    await page.fill('#knn-every', '0');
    await page.click('#start');
    await page.waitForFunction(() => {
      const p = (globalThis as unknown as { playground: PageState }).playground;
      return p.done || p.error !== null;
    });
    const s = await read(page);
    expect(s.error).toBeNull();
    expect(s.records).toHaveLength(2);
    expect(await page.textContent('#log')).toContain('training mae: 2 steps, batch 4, 2 steps/epoch'); // 10 images, the last partial batch dropped
    await page.close();
  });

  // Software WebGL and WebGPU (SwiftShader) are slow on a CPU: fewer steps, no online k-NN, and on
  // WebGPU no classification (the same harness code the other backends run).
  interface Plan { steps: number; knnEvery: number; classify: boolean }
  const plans: Record<string, Plan> = {
    wasm: { steps: 4, knnEvery: 2, classify: true },
    webgl: { steps: 2, knnEvery: 0, classify: true },
    webgpu: { steps: 1, knnEvery: 0, classify: false },
  };
  for (const [backend, plan] of Object.entries(plans)) {
    it(`${backend}: trains MOCA and MAE (${plan.steps} steps), saves a checkpoint that Node reads with the page's features${plan.classify ? ', classifies' : ''}`, async () => {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 }, acceptDownloads: true });
      page.on('pageerror', (e) => console.log(`[page] ${e.message}`));
      await page.goto(url);
      const support = await page.textContent('#support');
      if (backend === 'webgpu' && !support!.includes('webgpu yes')) return console.log(`[playground] webgpu skipped: ${support}`);
      const figures: string[] = [];
      for (const method of ['mae', 'moca']) {
        const t0 = Date.now();
        const s = await train(page, method, backend, plan);
        expect(s.error).toBeNull();
        expect(s.backend).toBe(backend);
        expect(s.records.map((r) => r.step)).toEqual(Array.from({ length: plan.steps }, (_, i) => i));
        expect(s.records.every((r) => Number.isFinite(r.loss))).toBe(true);
        const knn = s.records.filter((r) => r.knn !== undefined).at(-1)?.knn;
        if (plan.knnEvery > 0) expect(knn).toBeGreaterThan(0.2);
        expect(await page.textContent('#status')).toMatch(new RegExp(`^step ${plan.steps} / ${plan.steps}, loss \\d`));
        const last = s.records.at(-1)!;
        figures.push(`${method} ${(((Date.now() - t0) / 1000)).toFixed(1)} s for ${plan.steps} steps (last ${last.imgPerSec.toFixed(1)} img/s)${knn !== undefined ? `, k-NN ${(100 * knn).toFixed(1)}%` : ''}`);
      }
      if (shots && backend === 'wasm') await page.screenshot({ path: join(shots, 'train.png') });

      // The checkpoint download, read in Node: same method, step and features (first 4 test images).
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save')]);
      const file = join(dir, `${backend}-${download.suggestedFilename()}`);
      await download.saveAs(file);
      expect(download.suggestedFilename()).toBe(`moca-step-00000${plan.steps}.safetensors`);
      await page.click('nav button[data-tab="use"]');
      await page.selectOption('#use-backend', backend);
      await page.setInputFiles('#ckpt-input', file);
      await page.waitForFunction(() => (globalThis as unknown as { playground: PageState }).playground.loaded !== null);
      expect((await read(page)).loaded).toEqual({ method: 'moca', step: plan.steps });
      await page.click('#embed');
      await page.waitForFunction(() => (globalThis as unknown as { playground: PageState }).playground.features !== null);
      const inPage = (await read(page)).features!;
      const { objective } = await loadObjective(file);
      const images = new Uint8Dataset({ name: 'sample', imageShape: [28, 28, 1], pixels: (await readIdxFile(sample)).data, labels: null, numClasses: 0 });
      const { config, params } = objective.backbone();
      const inNode = await extractFeatures(images, vitFeatureFn(config, params), { indices: [0, 1, 2, 3] });
      objective.dispose();
      let worst = 0;
      let scale = 0;
      for (let i = 0; i < inNode.features.length; i++) scale = Math.max(scale, Math.abs(inNode.features[i]!));
      for (let i = 0; i < inNode.features.length; i++) worst = Math.max(worst, Math.abs(inNode.features[i]! - inPage.features[i]!) / scale);
      expect(inPage.dim).toBe(inNode.dim);
      figures.push(`page (${backend}) vs Node (tensorflow) features: max diff ${worst.toExponential(2)} of the largest |feature|`);
      expect(worst).toBeLessThan(1e-4);

      if (plan.classify) {
        await page.fill('#shots', '5');
        await page.click('#classify');
        const t1 = Date.now();
        await page.waitForFunction(() => {
          const p = (globalThis as unknown as { playground: PageState }).playground;
          return p.classified !== null || p.error !== null;
        }, undefined, { timeout: 120_000 });
        expect((await read(page)).error).toBeNull();
        const c = (await read(page)).classified!;
        figures.push(`classify ${((Date.now() - t1) / 1000).toFixed(1)} s`);
        expect(c.shots).toBe(5);
        expect(c.knnAccuracy).toBeGreaterThan(0.2); // 10 classes: chance is 0.1
        expect(c.logisticAccuracy).toBeGreaterThan(0.2);
        figures.push(`5-shot k-NN ${(100 * c.knnAccuracy!).toFixed(1)}%, logistic ${(100 * c.logisticAccuracy!).toFixed(1)}%`);
      }
      if (shots && backend === 'wasm') await page.screenshot({ path: join(shots, 'use.png') });

      if (backend === 'wasm') {
        // MOMA distils from the checkpoint loaded in the Use tab (MOCA's, just saved).
        await page.click('nav button[data-tab="train"]');
        const t2 = Date.now();
        const m = await train(page, 'moma', backend, { steps: 2, knnEvery: 0, classify: false });
        expect(m.error).toBeNull();
        expect(m.records).toHaveLength(2);
        figures.push(`moma from the loaded moca: ${((Date.now() - t2) / 1000).toFixed(1)} s for 2 steps`);
      }

      await page.click('nav button[data-tab="see"]');
      await page.click('#draw-masks');
      await page.waitForFunction(() => (globalThis as unknown as { playground: PageState }).playground.masks > 0);
      // The images, MOCA's two rounds and the teacher's codeword per token of the network just trained.
      expect((await read(page)).seen).toEqual({ network: `moca after ${plan.steps} steps`, reconstruction: false, assignments: true });
      expect(await page.locator('#masks canvas').count()).toBe(4 * 6);
      if (shots && backend === 'wasm') await page.screenshot({ path: join(shots, 'see.png') });
      console.log(`[playground] ${backend}: ${figures.join('; ')}`);
      await page.close();
    });
  }
});
