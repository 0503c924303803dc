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

/** How a stop request names itself: by the signal's name, when the CLI or the scheduler gave it as the reason. */
export function stopRequest(reason: unknown): string {
  return typeof reason === 'string' ? `stopped on request (${reason})` : 'stopped on request';
}
