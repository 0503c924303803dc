import { describe, expect, it, vi } from 'vitest';
import { sleepUnlessStopped } from './sleep.js';

describe('a wait a stop request cuts short', () => {
  it('ends after its time, or at the stop request, whichever comes first, and leaves no timer behind', async () => {
    vi.useFakeTimers();
    try {
      let ended = false;
      const timed = sleepUnlessStopped(60_000).then(() => (ended = true));
      await vi.advanceTimersByTimeAsync(59_999);
      expect(ended).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      await timed;
      expect(ended).toBe(true);

      const stop = new AbortController();
      let stopped = false;
      const cut = sleepUnlessStopped(60_000, stop.signal).then(() => (stopped = true));
      await vi.advanceTimersByTimeAsync(1_000);
      expect(stopped).toBe(false);
      stop.abort('SIGTERM');
      await cut;
      expect(stopped).toBe(true);
      expect(vi.getTimerCount()).toBe(0);

      // Asked to stop already: it does not wait at all.
      await sleepUnlessStopped(60_000, stop.signal);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
