/**
 * The shim bin/redeye.js: a stop asked for while the program is still loading (a second or two) ends it
 * with a word and the exit code of a stop, where Node would end it at once with no log (exit 143).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = resolve(import.meta.dirname, '../bin/redeye.js');
const READY = 'test: the shim listens for SIGTERM';

let dir: string;
let preload: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'redeye-bin-signals-'));
  // Loaded before the shim: says when the shim adds its SIGTERM listener, so the test stops it then —
  // long before the program has loaded. A fixed delay lost that race on a loaded machine.
  preload = join(dir, 'ready.cjs');
  writeFileSync(
    preload,
    `process.on('newListener', (event) => { if (event === 'SIGTERM') process.stderr.write(${JSON.stringify(`${READY}\n`)}); });\n`,
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function stopWhileLoading(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--require', preload, BIN, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    let stopped = false;
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (!stopped && stderr.includes(READY)) {
        stopped = true;
        child.kill('SIGTERM');
      }
    });
    child.on('error', fail);
    child.on('exit', (code) => done({ code, stderr }));
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
