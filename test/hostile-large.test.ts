/**
 * A 2 GB file in an inbox (issue 8), made sparse so the test never holds or writes 2 GB itself: what
 * Redeye reads of it is measured by the process's resident set (sampled while each job runs) and by the
 * bytes it read (`rchar` of /proc/self/io).
 *
 * - An XML feed: fetch streams the file into the landing area with flat memory, and ingest refuses it for
 *   its size from the registry's figure, before opening it: the 2 GB are not read at all.
 * - A CSV feed (flown coupons), which has no size limit: the file streams through fetch and through the
 *   reader to its last byte with flat memory. Its middle is 2 GB without a line break, which the reader
 *   takes for a record that never ends: the rest of the file is one reject, the file is refused, and
 *   every line is still counted.
 */
import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchJob } from '../jobs/fetch.js';
import { ingestJob } from '../jobs/ingest.js';
import type { JobResult } from '../jobs/types.js';
import type { FeedName } from '../parsers/types.js';
import { createWorld, type TestWorld } from './harness/context.js';
import { landedCopy } from './harness/files.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const SIZE = 2 * GiB;
const DATE = '2026-10-02';

let w: TestWorld;

function inbox(feed: FeedName): string {
  const cfg = w.config.feeds[feed]!;
  const t = w.config.transports[cfg.source]!;
  if (t.type !== 'local') throw new Error('local inbox expected');
  return join(t.root, cfg.remoteDir);
}

/** A file of `size` bytes: `head`, a hole (zero bytes that take no disk), and `tail` at the very end. */
function sparseFile(path: string, size: number, head: string, tail: string): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, head, 0, 'utf8');
    ftruncateSync(fd, size);
    writeSync(fd, tail, size - Buffer.byteLength(tail), 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** Bytes this process has read through read(2) and friends, page cache included. */
function bytesRead(): number {
  const m = /^rchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'));
  return m ? Number(m[1]) : Number.NaN;
}

interface Measured {
  result: JobResult;
  /** Peak resident set over the job, less the resident set before it. */
  rssGrowth: number;
  read: number;
  seconds: number;
}

async function measured(job: () => Promise<JobResult>): Promise<Measured> {
  const before = process.memoryUsage.rss();
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 10);
  const read0 = bytesRead();
  const t0 = performance.now();
  try {
    const result = await job();
    peak = Math.max(peak, process.memoryUsage.rss());
    return {
      result,
      rssGrowth: peak - before,
      read: bytesRead() - read0,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    clearInterval(sampler);
  }
}

function show(label: string, m: Measured): void {
  console.log(
    `[2 GB] ${label}: ${m.seconds.toFixed(1)} s, read ${(m.read / MiB).toFixed(1)} MiB, peak RSS growth ${(m.rssGrowth / MiB).toFixed(1)} MiB`,
  );
}

async function registryRow(feed: FeedName, name: string): Promise<Record<string, unknown>> {
  const row = await w.t.db.knex('files').where({ direction: 'in', feed, name }).first();
  expect(row, `${feed}/${name} registered`).toBeDefined();
  return row as Record<string, unknown>;
}

beforeAll(async () => {
  w = await createWorld('sqlite');
});

afterAll(async () => {
  await w.cleanup();
});

describe('a 2 GB file in an inbox', () => {
  it('XML feed: fetched with flat memory, refused by the size limit without being read', async () => {
    const name = 'HUGE_StayInfoNotif.xml';
    sparseFile(
      join(inbox('hotel'), name),
      SIZE,
      '<?xml version="1.0" encoding="UTF-8"?>\n<OTA_HotelStayInfoNotifRQ xmlns="http://www.opentravel.org/OTA/2003/05" Version="1.000">\n',
      '\n</OTA_HotelStayInfoNotifRQ>\n',
    );
    const ctx = w.ctx(DATE);
    const fetched = await measured(() => fetchJob(ctx));
    show('hotel fetch', fetched);
    expect(fetched.result.counts.new).toBe(1);
    const row = await registryRow('hotel', name);
    expect(Number(row.size)).toBe(SIZE);
    // Streamed: the 2 GB went through, 64 KiB at a time.
    expect(fetched.read).toBeGreaterThanOrEqual(SIZE);
    expect(fetched.rssGrowth).toBeLessThan(256 * MiB);

    const ingested = await measured(() => ingestJob(ctx));
    show('hotel ingest', ingested);
    const after = await registryRow('hotel', name);
    expect([after.verdict, after.reason]).toEqual(['rejected', 'TOO_LARGE']);
    expect(String(after.message)).toBe(`document is ${SIZE} bytes, over the limit of 20971520; not read`);
    expect(JSON.parse(String(after.counts))).toEqual({ lines: 0, records: 0, rejects: 0 });
    // Refused from the registry's size: not a byte of the file read, no memory to speak of.
    expect(ingested.read).toBeLessThan(16 * MiB);
    expect(ingested.rssGrowth).toBeLessThan(64 * MiB);
    rmSync(landedCopy(w.config, after.local_path));
  }, 300_000);

  it('CSV feed: streamed to its last byte with flat memory, the line that never ends refused', async () => {
    const name = 'FLOWN_HUGE.csv';
    const header =
      'ticket_number,coupon_number,issue_date,pnr,operating_carrier,operating_flight,marketing_carrier,marketing_flight,flight_date,origin,destination,cabin,booked_rbd,flown_rbd,fare_basis,passenger_surname,passenger_given_name,passenger_type,ffp_carrier,ffp_number,fare_amount,carrier_surcharge_amount,tax_amount,currency,coupon_status,source_ref';
    const row = (ticket: string) =>
      `${ticket},1,2026-09-20,DX9TA8,XX,302,XX,302,2026-10-01,KGD,LED,Y,K,K,KSAVEROW,SEMENOV,PETR,ADT,,,7960.00,925.00,1304.00,RUB,F,RA1`;
    sparseFile(
      join(inbox('flown'), name),
      SIZE,
      `${header}\n${row('9585465022694')}\n`,
      `\n${row('9585465022695')}\n#TRAILER,2,15920.00\n`,
    );
    const ctx = w.ctx(DATE);
    const fetched = await measured(() => fetchJob(ctx));
    show('flown fetch', fetched);
    expect(fetched.result.counts.new).toBe(1);
    expect(fetched.rssGrowth).toBeLessThan(256 * MiB);

    const ingested = await measured(() => ingestJob(ctx));
    show('flown ingest', ingested);
    const after = await registryRow('flown', name);
    expect([after.verdict, after.reason]).toEqual(['rejected', 'RECORD_TOO_LONG']);
    // Header, a coupon, 2 GB of NUL bytes ending in a line break, a coupon, the trailer: every line
    // counted, so the reader went through to the end.
    expect(JSON.parse(String(after.counts))).toEqual({ lines: 5, records: 0, rejects: 0 });
    expect(ingested.read).toBeGreaterThanOrEqual(SIZE);
    expect(ingested.rssGrowth).toBeLessThan(128 * MiB);
    const landed = landedCopy(w.config, after.local_path);
    if (existsSync(landed)) rmSync(landed);
  }, 300_000);
});
