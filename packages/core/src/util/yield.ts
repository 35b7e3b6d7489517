// Lets the event loop run between chunks of a long evaluation. On the native backend tfjs computes
// synchronously and `await tensor.data()` resolves at once, so a k-NN over 60k images or a probe's
// hundreds of L-BFGS steps would otherwise hold the loop for minutes: no signal handler, timer,
// progress line or worker message (vitest's RPC times out after 60 s) gets through meanwhile.

/** Resolves on the next turn of the event loop (setImmediate in Node, a 0 ms timer elsewhere). */
export function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => unknown };
  return new Promise((resolve) => (g.setImmediate ? g.setImmediate(resolve) : setTimeout(resolve, 0)));
}

/**
 * Runs `fn` on a later turn of the event loop (setImmediate in Node, a 0 ms timer elsewhere); returns
 * a function that cancels it if it has not run.
 */
export function onNextTurn(fn: () => void): () => void {
  const g = globalThis as { setImmediate?: (f: () => void) => unknown; clearImmediate?: (h: unknown) => void };
  if (g.setImmediate && g.clearImmediate) {
    const handle = g.setImmediate(fn);
    return () => g.clearImmediate!(handle);
  }
  const handle = setTimeout(fn, 0);
  return () => clearTimeout(handle);
}
