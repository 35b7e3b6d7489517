// How the trainer reports: a one-line, rewritten status on a TTY (step, epoch, loss, img/s, ETA) and
// plain lines otherwise; messages (checkpoints, k-NN, warnings) always on their own line.
import { formatDuration } from './budget.js';

export interface StepRecord {
  step: number;
  totalSteps: number;
  epoch: number;
  loss: number;
  metrics: Record<string, number>;
  lr: number;
  weightDecay: number;
  /** Training images per second over the last logging window (views of one image count once). */
  imgPerSec: number;
  /** Training wall-clock so far (online k-NN evaluations excluded). */
  elapsedSeconds: number;
  etaSeconds: number;
  /** Online k-NN top-1 (k = 20) on the held-out subset, when measured at this step. */
  knn?: number;
}

export interface ProgressReporter {
  step(record: StepRecord): void;
  message(line: string): void;
  /** Called once at the end (e.g. to finish a TTY status line). */
  close(): void;
}

export function formatStep(r: StepRecord): string {
  const parts = [
    `step ${r.step + 1}/${r.totalSteps}`,
    `ep ${r.epoch}`,
    `loss ${r.loss.toFixed(4)}`,
    ...Object.entries(r.metrics).map(([k, v]) => `${k} ${Math.abs(v) >= 100 ? v.toFixed(1) : v.toFixed(4)}`),
    `lr ${r.lr.toExponential(2)}`,
    `${r.imgPerSec.toFixed(1)} img/s`,
    `${formatDuration(r.elapsedSeconds)} elapsed, ETA ${formatDuration(r.etaSeconds)}`,
  ];
  if (r.knn !== undefined) parts.push(`knn ${(100 * r.knn).toFixed(2)}%`);
  return parts.join(' | ');
}

/** TTY: rewrite one status line on every step. Otherwise: a line every `every` steps. */
export function consoleReporter(stream: NodeJS.WriteStream = process.stderr, every = 10): ProgressReporter {
  const tty = Boolean(stream.isTTY);
  let statusShown = false;
  const clear = () => {
    if (statusShown) stream.write('\r\x1b[2K');
    statusShown = false;
  };
  return {
    step(r) {
      if (tty) {
        clear();
        stream.write(formatStep(r).slice(0, (stream.columns ?? 200) - 1));
        statusShown = true;
      } else if ((r.step + 1) % every === 0 || r.step + 1 === r.totalSteps || r.knn !== undefined) {
        stream.write(formatStep(r) + '\n');
      }
    },
    message(line) {
      clear();
      stream.write(line + '\n');
    },
    close() {
      if (statusShown) stream.write('\n');
      statusShown = false;
    },
  };
}

/** Collects everything (tests). */
export function memoryReporter(): ProgressReporter & { records: StepRecord[]; messages: string[] } {
  const records: StepRecord[] = [];
  const messages: string[] = [];
  return { records, messages, step: (r) => records.push(r), message: (m) => messages.push(m), close: () => undefined };
}
