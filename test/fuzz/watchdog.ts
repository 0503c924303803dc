/**
 * A hang detector that a hang cannot silence. A timer in the process under test cannot fire while a
 * parser spins in a synchronous loop (a regular expression backtracking forever, a scanner that stops
 * advancing), so the timers live in a small child process instead: the fuzz runner arms a named timer
 * before each step and clears it after; if one runs out, the child writes what was running to stderr and
 * to `reportPath`, and kills the test process, which fails the run instead of stalling it.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const CHILD = `
const fs = require('node:fs');
const [parent, report] = process.argv.slice(1);
const timers = new Map();
let buffer = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buffer += d;
  for (let i = buffer.indexOf('\\n'); i !== -1; i = buffer.indexOf('\\n')) {
    const m = JSON.parse(buffer.slice(0, i));
    buffer = buffer.slice(i + 1);
    clearTimeout(timers.get(m.id));
    timers.delete(m.id);
    if (m.ms !== undefined) timers.set(m.id, setTimeout(() => fire(m), m.ms));
  }
});
process.stdin.on('end', () => process.exit(0));
function fire(m) {
  const text = 'fuzz watchdog: ' + m.label + ' did not finish within ' + m.ms + ' ms; killing the test process ' + parent;
  try { if (report) fs.writeFileSync(report, text + '\\n'); } catch {}
  process.stderr.write(text + '\\n');
  try { process.kill(Number(parent), 'SIGKILL'); } catch {}
  process.exit(1);
}
`;

export class Watchdog {
  private readonly child: ChildProcess;

  constructor(reportPath = '') {
    this.child = spawn(process.execPath, ['-e', CHILD, String(process.pid), reportPath], {
      stdio: ['pipe', 'inherit', 'inherit'],
    });
    this.child.unref();
    (this.child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    this.child.on('error', () => undefined);
  }

  /** Starts (or restarts) timer `id`: unless cleared within `ms`, the test process is killed. */
  arm(id: string, label: string, ms: number): void {
    this.child.stdin?.write(`${JSON.stringify({ id, label, ms })}\n`);
  }

  clear(id: string): void {
    this.child.stdin?.write(`${JSON.stringify({ id })}\n`);
  }

  close(): void {
    this.child.stdin?.end();
  }
}

/** Rejects with a HANG error naming `label` when `promise` has not settled within `ms` (async hangs). */
export async function withTimeout<T>(promise: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`HANG: ${label} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
