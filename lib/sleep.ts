/**
 * Resolves after `ms`, or at once when `signal` asks to stop: a wait a stop request cuts short, so a night
 * asked to stop (SIGTERM) does not sit out a pause, a completeness check's interval or a daemon's sleep.
 */
export function sleepUnlessStopped(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
