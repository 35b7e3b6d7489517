// Quiet start-up: TensorFlow's C++ library (absl logging, e.g. "oneDNN custom operations are on") and
// Dawn's Vulkan probe ("error: XDG_RUNTIME_DIR is invalid", "Warning: Vulkan shaderUniform*...") write
// to file descriptor 2 from native code, where TF_CPP_MIN_LOG_LEVEL no longer reaches them (TF 2.19+
// logs through absl before InitializeLog) and Dawn has no switch. So the command runs as a child
// process whose stderr passes through `NoiseFilter`; `--verbose` or MASKEDSSL_VERBOSE=1 turns this off.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

/** Set in the child's environment: it writes to a filtered pipe (and how wide the terminal is, when it is one). */
export const CHILD_ENV = 'MASKEDSSL_FILTERED_STDERR';

/** Whole lines of native start-up chatter that are dropped (TensorFlow I/W lines; E lines are kept). */
const NOISE: RegExp[] = [
  /^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$/,
  /^[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.-]+:\d+\] /, // absl: I0000 00:00:1796324387.082456   11997 port.cc:153] ...
  /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IW] [\w/.-]+:\d+\] /, // TensorFlow's older format
  /^error: XDG_RUNTIME_DIR is invalid or not set in the environment\.$/,
  /^Warning: Vulkan /, // Dawn's adapter warnings
  /^ - While initializing adapter /,
  /^ {4}at \w+ \(.*\/dawn\/.*\)$/,
];

/** Whether `prefix` (the start of a line not yet ended) could still become a dropped line. */
function mayBecomeNoise(prefix: string): boolean {
  const starts = ['WARNING: All log', 'error: XDG_RUNTIME_DIR', 'Warning: Vulkan', ' - While initializing', '    at '];
  if (starts.some((s) => s.startsWith(prefix) || prefix.startsWith(s))) return true;
  // absl lines start with I/W and digits, TensorFlow's older ones with a date: held until the line ends.
  return /^([IW]\d*$|[IW]\d{4} |\d)/.test(prefix);
}

/**
 * A stream filter over stderr text: complete lines that are native noise are dropped (and one blank
 * line right after a dropped block, as Dawn ends its warnings); everything else, a progress status
 * line without a newline included, is passed on as soon as it can no longer be noise.
 */
export class NoiseFilter {
  private pending = '';
  private droppedLast = false;

  constructor(private readonly write: (text: string) => void) {}

  push(chunk: string): void {
    this.pending += chunk;
    let out = '';
    let nl: number;
    while ((nl = this.pending.indexOf('\n')) >= 0) {
      const line = this.pending.slice(0, nl);
      this.pending = this.pending.slice(nl + 1);
      if (NOISE.some((re) => re.test(line)) || (line === '' && this.droppedLast)) {
        this.droppedLast = line !== '';
        continue;
      }
      this.droppedLast = false;
      out += line + '\n';
    }
    if (this.pending !== '' && !mayBecomeNoise(this.pending)) {
      out += this.pending;
      this.pending = '';
      this.droppedLast = false;
    }
    if (out) this.write(out);
  }

  /** Passes on what is left (at the end of the stream). */
  flush(): void {
    if (this.pending !== '' && !NOISE.some((re) => re.test(this.pending))) this.write(this.pending);
    this.pending = '';
  }
}

/** True when the native logs are wanted: --verbose among the arguments, or MASKEDSSL_VERBOSE set (not 0). */
export function wantsVerbose(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.MASKEDSSL_VERBOSE;
  return argv.includes('--verbose') || (v !== undefined && v !== '' && v !== '0');
}

/**
 * Runs `node <nodeArgs...>` with this process's stdin and stdout, its stderr through NoiseFilter, and
 * the same exit status (a child killed by a signal: 128 + its number). SIGINT, SIGTERM and SIGHUP
 * are passed on, so a run stopped with kill <pid> still checkpoints.
 */
export function runFiltered(nodeArgs: string[]): Promise<number> {
  const columns = process.stderr.isTTY ? String(process.stderr.columns ?? 80) : '0';
  const child = spawn(process.execPath, nodeArgs, { stdio: ['inherit', 'inherit', 'pipe'], env: { ...process.env, [CHILD_ENV]: columns } });
  const filter = new NoiseFilter((s) => process.stderr.write(s));
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => filter.push(s));
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  for (const sig of signals) process.on(sig, forward);
  return new Promise((resolve) => {
    child.on('error', (e) => {
      process.stderr.write(`maskedssl: cannot start ${process.execPath}: ${e.message}\n`);
      resolve(1);
    });
    child.on('close', (code, signal) => {
      filter.flush();
      for (const sig of signals) process.off(sig, forward);
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}

/**
 * Where the training progress goes: stderr, which in the filtered child behaves as the terminal the
 * parent writes to (one rewritten status line) when the parent's stderr is one.
 */
export function progressStream(): NodeJS.WriteStream {
  const columns = Number(process.env[CHILD_ENV] ?? 0);
  if (process.stderr.isTTY || !(columns > 0)) return process.stderr;
  return { isTTY: true, columns, write: (s: string) => process.stderr.write(s) } as unknown as NodeJS.WriteStream;
}
