/**
 * The shim bin/redeye.js: a stop asked for while the program is still loading (a second or two) ends it
 * with a word and the exit code of a stop, where Node would end it at once with no log (exit 143).
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = resolve(import.meta.dirname, '../bin/redeye.js');

function stopWhileLoading(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', fail);
    child.on('exit', (code) => done({ code, stderr }));
    // The shim's handlers are in place once Node has run its first lines; the program is not loaded yet.
    setTimeout(() => child.kill('SIGTERM'), 150);
  });
}

describe('bin/redeye.js', () => {
  it('stops the daemon cleanly when SIGTERM comes while it loads', async () => {
    const r = await stopWhileLoading(['--config', '/nonexistent/redeye.config.yaml', 'schedule']);
    expect(r.stderr).toMatch(/stopped on request \(SIGTERM\) while starting: nothing was run/);
    expect(r.code).toBe(0);
  });

  it('says a run that was stopped while loading did not run (exit 1)', async () => {
    const r = await stopWhileLoading(['--config', '/nonexistent/redeye.config.yaml', 'run', 'nightly']);
    expect(r.stderr).toMatch(/stopped on request \(SIGTERM\) while starting: nothing was run/);
    expect(r.code).toBe(1);
  });
});
