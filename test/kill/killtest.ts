/**
 * The kill test: a generated demo (a few nights, every feed) run once uninterrupted into a reference
 * world, then into a second world night by night, each night's `redeye run nightly` killed with SIGKILL
 * at random points and rerun until it completes; then the two worlds must hold the same ledger, the same
 * activity outcomes and the same files, and `redeye ledger check` must pass. After every kill, before the
 * rerun, the ledger's invariants are checked on what the killed process left.
 *
 * Kill points. The reference run gives the duration of every step of every night. The points are drawn
 * over that whole timeline (one uniform point in each of `kills` equal slices, so they spread over it;
 * one more in every step of the first night, and one while the process starts on the first and the last
 * night), and each is aimed at its step: the killed world's child is killed that long after it logs that
 * the step started. A rerun skips what is done, so a point measured from the start of the process would
 * drift to later steps. In a step that picks up where the last kill left it (fetch, ingest, accrue) the
 * wait is the distance from the step's previous point; in a step that starts over it is the point's
 * offset in the step. A point still lands in a later step when the rerun is quicker than the reference
 * (the log shows it: the step each kill interrupted is read from `job_runs`). Points left when a night
 * completes move to the next night; on the last night they kill reruns of the completed night, which
 * must change nothing either, and so do random points until there have been `minKills` kills.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Document } from 'yaml';
import { checkLedger } from '../../ledger/check.js';
import { NIGHTLY_STEPS } from '../../jobs/runner.js';
import {
  compare,
  generate,
  seededRandom,
  snapshot,
  stepSeconds,
  World,
  type ChildResult,
  type Snapshot,
} from './harness.js';

export interface KillTestOptions {
  /** Working folder (demo, both worlds, logs, report). */
  dir: string;
  members: number;
  month: string;
  /** How many nights from the first of the month. */
  nights: number;
  /** Kill points drawn over the timeline (kills may be fewer when a rerun finishes first). */
  kills: number;
  /** At least this many kills: reruns of the last night are killed at random points until there are. */
  minKills: number;
  seed: number;
  /**
   * The two worlds' databases on PostgreSQL (each its own, migrated by the test); without them each
   * world has its SQLite file under its `var/`.
   */
  postgres?: { reference: string; killed: string };
  log: (line: string) => void;
}

interface Target {
  /** A step of the night, or `start` (counted from the spawn). */
  step: string;
  /** Where in the step (or in the start-up), as a share of its clean duration on the night it runs. */
  fraction: number;
  /** Order among the step's points. */
  seq: number;
  why: 'timeline' | 'start' | 'top-up';
}

export interface Attempt {
  night: string;
  attempt: number;
  aimed: string;
  outcome: 'killed' | 'completed' | 'failed';
  /** Where the kill landed, from job_runs. */
  interrupted?: string;
  ms: number;
  /** Ledger invariants broken in the state the kill left (must be none). */
  violations: string[];
  rerunOfCompleted: boolean;
  /** The killed process left its run lock behind: the next attempt had to take it over. */
  staleLock?: boolean;
  exit?: number | null;
  error?: string;
}

export interface KillTestReport {
  options: Omit<KillTestOptions, 'log' | 'postgres'>;
  engine: 'sqlite' | 'postgres';
  activities: number;
  feeds: string[];
  reference: { nights: Array<{ date: string; ms: number; steps: Record<string, number> }>; ms: number };
  attempts: Attempt[];
  kills: number;
  /** Kills that left the night's lock behind, each taken over by the next attempt. */
  staleLocks: number;
  interrupted: Record<string, number>;
  unexpectedFailures: Attempt[];
  midStateViolations: Attempt[];
  ledgerCheck: { reference: number | null; killed: number | null; output: string };
  tables: Record<string, number>;
  files: number;
  /** Temporary files left by killed writes (not compared: see Snapshot.temporary). */
  temporaryLeftovers: string[];
  problems: string[];
  ms: number;
}

/**
 * Steps that pick up where a killed run left them (fetch: files landed and registered; ingest: files
 * read, each in its own transaction; accrue: batches posted). A rerun's point in such a step is measured
 * from where the previous kill stopped it, so its kill points are aimed as the distance from the previous
 * one; the other steps start over on a rerun, and their points are aimed from the step's start.
 */
const RESUMABLE = new Set(['fetch', 'ingest', 'accrue']);

function pickTargets(
  options: KillTestOptions,
  timeline: Array<Array<{ step: string; seconds: number }>>,
  random: () => number,
): Target[][] {
  // Points (seconds into a step) per night and step.
  const points = timeline.map((steps) => new Map(steps.map((s) => [s.step, [] as number[]])));
  // Every step of the first night at least once, in the first half of its clean duration.
  for (const { step, seconds } of timeline[0]!) points[0]!.get(step)!.push((random() * seconds) / 2);
  // The rest spread over the whole timeline of the nights' steps: one point in each of `kills` slices.
  const flat = timeline.flatMap((steps, night) => steps.map((s) => ({ night, ...s })));
  const total = flat.reduce((sum, x) => sum + x.seconds, 0);
  for (let i = 0; i < options.kills; i++) {
    let at = ((i + random()) / options.kills) * total;
    for (const x of flat) {
      if (at < x.seconds || x === flat[flat.length - 1]) {
        points[x.night]!.get(x.step)!.push(Math.min(at, x.seconds));
        break;
      }
      at -= x.seconds;
    }
  }
  return timeline.map((steps, night) => {
    const targets: Target[] = [];
    // While the process starts (before it takes the lock): on the first and on the last night.
    if (night === 0 || night === timeline.length - 1)
      targets.push({ step: 'start', fraction: random(), seq: 0, why: 'start' });
    for (const { step, seconds } of steps) {
      const sorted = points[night]!.get(step)!.sort((a, b) => a - b);
      sorted.forEach((at, i) => {
        const aimed = RESUMABLE.has(step) ? at - (i > 0 ? sorted[i - 1]! : 0) : at;
        targets.push({ step, fraction: seconds > 0 ? aimed / seconds : 0, seq: i, why: 'timeline' });
      });
    }
    return targets;
  });
}

/** A random point of a night's timeline (for the top-up). */
function randomTarget(steps: Array<{ step: string; seconds: number }>, random: () => number): Target {
  const total = steps.reduce((s, x) => s + x.seconds, 0);
  let at = random() * total;
  for (const x of steps) {
    if (at < x.seconds) return { step: x.step, fraction: at / x.seconds, seq: 0, why: 'top-up' };
    at -= x.seconds;
  }
  return { step: steps[steps.length - 1]!.step, fraction: random(), seq: 0, why: 'top-up' };
}

const stepIndex = (t: Target) => (t.step === 'start' ? -1 : NIGHTLY_STEPS.indexOf(t.step as never));

/** The feeds the reference world read files of. */
async function inboundFeeds(world: World): Promise<string[]> {
  const rows = (await world.read((knex) =>
    knex('files').where({ direction: 'in' }).distinct('feed').orderBy('feed'),
  )) as Array<{ feed: string }>;
  return rows.map((r) => r.feed);
}

async function ledgerViolations(world: World): Promise<string[]> {
  const report = await world.read((knex) => checkLedger(knex));
  return (report?.checks ?? []).flatMap((c) => c.violations.map((v) => `${c.name}: ${v}`));
}

export async function runKillTest(options: KillTestOptions): Promise<KillTestReport> {
  const t0 = performance.now();
  const { log } = options;
  const random = seededRandom(options.seed);
  mkdirSync(options.dir, { recursive: true });
  const logs = join(options.dir, 'logs');
  mkdirSync(logs, { recursive: true });
  const keepLog = (name: string, r: ChildResult) =>
    writeFileSync(join(logs, `${name}.log`), `${r.stdout}\n--- stderr ---\n${r.stderr}`);

  log(
    `on ${options.postgres ? 'PostgreSQL' : 'SQLite'}: generating the demo: ${options.members} members, ${options.month}, first ${options.nights} night(s)`,
  );
  const demo = await generate(join(options.dir, 'demo'), options.members, options.month, 1);
  const dates = demo.plan.nights.slice(0, options.nights).map((n) => n.date);
  let records = 0;
  for (const n of demo.plan.nights.slice(0, options.nights))
    for (const c of Object.values(n.feeds)) records += c?.records ?? 0;
  log(`nights ${dates.join(', ')}: ${records} records generated (partner airlines' results come on top)`);

  // ---------------------------------------------------------------------------------------- reference
  const on = (url: string | undefined) =>
    url === undefined ? {} : { edit: (doc: Document) => doc.setIn(['database', 'url'], url) };
  const reference = await World.create(
    'reference',
    join(options.dir, 'reference'),
    demo,
    on(options.postgres?.reference),
  );
  const refNights: KillTestReport['reference']['nights'] = [];
  const timeline: Array<Array<{ step: string; seconds: number }>> = [];
  const startupMs: number[] = [];
  const tRef = performance.now();
  for (const date of dates) {
    await reference.deliverNight(date);
    const r = await reference.nightly(date);
    keepLog(`reference-${date}`, r);
    if (r.code !== 0) throw new Error(`the reference night ${date} failed (exit ${r.code}):\n${r.stdout}`);
    const steps = stepSeconds(r.stdout);
    timeline.push(steps.map((s) => ({ step: s.step, seconds: s.seconds })));
    startupMs.push(r.started[0]?.at ?? 500);
    refNights.push({
      date,
      ms: Math.round(r.ms),
      steps: Object.fromEntries(steps.map((s) => [s.step, Math.round(s.seconds * 1000) / 1000])),
    });
    log(
      `reference ${date}: ${(r.ms / 1000).toFixed(1)} s (${steps.map((s) => `${s.step} ${s.seconds.toFixed(2)}`).join(', ')})`,
    );
  }
  const refMs = performance.now() - tRef;

  // ---------------------------------------------------------------------------------------- killed
  const killed = await World.create(
    'killed',
    join(options.dir, 'killed'),
    demo,
    on(options.postgres?.killed),
  );
  const targets = pickTargets(options, timeline, random);
  const attempts: Attempt[] = [];
  let carried: Target[] = [];
  let n = 0;
  const kills = () => attempts.filter((a) => a.outcome === 'killed').length;
  for (const [night, date] of dates.entries()) {
    await killed.deliverNight(date);
    const last = night === dates.length - 1;
    const queue = [...carried, ...targets[night]!].sort(
      (a, b) => stepIndex(a) - stepIndex(b) || a.seq - b.seq,
    );
    carried = [];
    let completed = false;
    /** Whether the last attempt ran to its end: a night is always left by a run that did. */
    let ended = false;
    const steps = timeline[night]!;
    let topUps = 0;
    for (;;) {
      if (queue.length === 0 && last && kills() < options.minKills && topUps < 3 * options.minKills) {
        topUps++;
        queue.push(randomTarget(steps, random));
      }
      if (queue.length === 0) break;
      if (completed && !last) {
        carried = queue.splice(0);
        break;
      }
      const target = queue.shift()!;
      // The point lands at the same share of the step on this night as where it was drawn.
      const seconds =
        target.step === 'start'
          ? startupMs[night]! / 1000
          : (steps.find((s) => s.step === target.step)?.seconds ?? 0);
      const offsetMs = target.fraction * seconds * 1000;
      const aimed = `${target.step} +${Math.round(offsetMs)} ms`;
      const r = await killed.nightly(
        date,
        target.step === 'start' ? { afterSpawnMs: offsetMs } : { step: target.step, offsetMs },
      );
      n++;
      keepLog(`killed-${date}-${String(n).padStart(3, '0')}`, r);
      const attempt: Attempt = {
        night: date,
        attempt: n,
        aimed,
        outcome: r.killed ? 'killed' : r.code === 0 ? 'completed' : 'failed',
        ms: Math.round(r.ms),
        violations: [],
        rerunOfCompleted: completed,
        exit: r.code,
      };
      ended = !r.killed && r.code === 0;
      if (r.killed) {
        attempt.interrupted = await killed.interruptedStep(r.pid, date);
        attempt.staleLock = await killed.leftLock(r.pid);
        attempt.violations = await ledgerViolations(killed);
      } else if (r.code === 0) {
        completed = true;
      } else {
        attempt.error =
          r.stdout
            .split('\n')
            .filter((l) => l.startsWith('{'))
            .slice(-1)[0] ?? r.stderr.slice(-2000);
      }
      attempts.push(attempt);
      log(
        `  #${String(n).padStart(3)} ${date} aimed at ${aimed.padEnd(20)} ${attempt.outcome.padEnd(9)}` +
          `${attempt.interrupted ? ` in ${attempt.interrupted}` : ''} after ${(r.ms / 1000).toFixed(2)} s` +
          `${attempt.staleLock ? ', lock left behind' : ''}` +
          `${attempt.rerunOfCompleted ? ' (rerun of the completed night)' : ''}` +
          `${attempt.violations.length > 0 ? ` — ${attempt.violations.length} LEDGER VIOLATION(S)` : ''}` +
          `${attempt.error ? ` — exit ${r.code}: ${attempt.error.slice(0, 300)}` : ''}`,
      );
    }
    if (!ended) {
      const r = await killed.nightly(date);
      n++;
      keepLog(`killed-${date}-${String(n).padStart(3, '0')}-final`, r);
      const attempt: Attempt = {
        night: date,
        attempt: n,
        aimed: 'no kill: run to the end',
        outcome: r.code === 0 ? 'completed' : 'failed',
        ms: Math.round(r.ms),
        violations: [],
        rerunOfCompleted: completed,
        exit: r.code,
      };
      if (r.code !== 0) attempt.error = r.stdout.slice(-2000);
      attempts.push(attempt);
      log(
        `  #${String(n).padStart(3)} ${date} run to the end: ${attempt.outcome} in ${(r.ms / 1000).toFixed(2)} s`,
      );
    }
  }

  // ---------------------------------------------------------------------------------------- compare
  const check = async (w: World) => {
    const r = await w.cli(['ledger', 'check'], {});
    return { code: r.code, output: r.stdout };
  };
  const refCheck = await check(reference);
  const killCheck = await check(killed);
  const refSnap: Snapshot = await snapshot(reference);
  const killSnap: Snapshot = await snapshot(killed);
  const problems = compare(refSnap, killSnap);
  const feeds = await inboundFeeds(reference);
  const interrupted: Record<string, number> = {};
  for (const a of attempts)
    if (a.outcome === 'killed') interrupted[a.interrupted!] = (interrupted[a.interrupted!] ?? 0) + 1;
  const report: KillTestReport = {
    options: {
      dir: options.dir,
      members: options.members,
      month: options.month,
      nights: options.nights,
      kills: options.kills,
      minKills: options.minKills,
      seed: options.seed,
    },
    engine: reference.engine,
    activities: refSnap.figures.activities ?? 0,
    feeds,
    reference: { nights: refNights, ms: Math.round(refMs) },
    attempts,
    kills: kills(),
    staleLocks: attempts.filter((a) => a.staleLock).length,
    interrupted,
    unexpectedFailures: attempts.filter((a) => a.outcome === 'failed'),
    midStateViolations: attempts.filter((a) => a.violations.length > 0),
    ledgerCheck: { reference: refCheck.code, killed: killCheck.code, output: killCheck.output },
    tables: Object.fromEntries([...refSnap.tables].map(([t, rows]) => [t, rows.length])),
    files: refSnap.files.size,
    temporaryLeftovers: killSnap.temporary,
    problems,
    ms: Math.round(performance.now() - t0),
  };
  writeFileSync(join(options.dir, 'killtest-report.json'), `${JSON.stringify(report, null, 1)}\n`);
  log(
    `${report.kills} kills in ${attempts.length} attempts (${report.staleLocks} left the lock behind, taken over by the rerun); interrupted: ` +
      Object.entries(interrupted)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
  );
  log(
    `reference: ${Object.entries(refSnap.figures)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}; ${refSnap.files.size} files`,
  );
  log(
    problems.length === 0
      ? `the killed world equals the reference: every table (${[...refSnap.tables.keys()].join(', ')}) and ${refSnap.files.size} files byte for byte`
      : `${problems.length} difference(s):\n${problems.join('\n')}`,
  );
  if (killSnap.temporary.length > 0)
    log(
      `${killSnap.temporary.length} temporary file(s) left by killed writes (never registered, not compared): ${killSnap.temporary.join(', ')}`,
    );
  log(`ledger check: reference exit ${refCheck.code}, killed world exit ${killCheck.code}`);
  log(
    `kill test took ${(report.ms / 1000).toFixed(0)} s; report in ${join(options.dir, 'killtest-report.json')}`,
  );
  return report;
}
