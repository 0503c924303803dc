/**
 * SMTP down during a night (`redeye run nightly` as a child process, the report mail going to an SMTP
 * server in the test process behind a relay that can refuse connections): the deliver step fails naming
 * the mail and the server, the night exits 1, the mail stays pending in the outbox, nothing is half
 * posted; then `redeye report send`, or the next night's deliver step, sends it, and nothing is sent twice.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Document } from 'yaml';
import { openDb } from '../../db/connection.js';
import { addDays } from '../../lib/dates.js';
import { generate, World, type Demo } from '../kill/harness.js';
import { startInProcessSmtp, type InProcessSmtp } from '../harness/smtp-inprocess.js';
import {
  count,
  halfPosted,
  MEMBERS,
  MONTH,
  NIGHT,
  startRelay,
  step,
  summaryOf,
  urlOf,
  type Relay,
} from './harness.js';

const NEXT = addDays(NIGHT, 1);
const messageId = (date: string) => `<daily-report.${date}@airline.example>`;

describe('SMTP down in a night', () => {
  let base: string;
  let demo: Demo;
  let smtp: InProcessSmtp;
  let relay: Relay;

  const withMail = (doc: Document) => {
    doc.set(
      'mail',
      doc.createNode({
        smtp: { host: '127.0.0.1', port: relay.port, secure: false },
        from: 'Redeye reports <redeye@airline.example>',
        lists: { daily: ['commercial@airline.example'] },
        // One attempt per run: a night does not wait for a server that is down.
        retries: 0,
      }),
    );
  };

  const outbox = async (w: World) => {
    const db = openDb(urlOf(w));
    try {
      return (await db
        .knex('mail_outbox')
        .orderBy('id')
        .select('message_id', 'status', 'attempts', 'last_error')) as Array<{
        message_id: string;
        status: string;
        attempts: number;
        last_error: string | null;
      }>;
    } finally {
      await db.close();
    }
  };
  /** Messages the server accepted with this Message-ID since message number `since`. */
  let since = 0;
  const received = (id: string) => smtp.messages.slice(since).filter((m) => m.parsed.messageId === id).length;

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'redeye-faults-smtp-'));
    demo = await generate(join(base, 'demo'), MEMBERS, MONTH, 1);
    smtp = await startInProcessSmtp();
    relay = await startRelay({ host: smtp.host, port: smtp.port });
  }, 60_000);
  afterAll(async () => {
    await relay?.stop();
    await smtp?.stop();
    rmSync(base, { recursive: true, force: true });
  });

  async function nightWithSmtpDown(name: string): Promise<World> {
    since = smtp.messages.length;
    const w = await World.create(name, join(base, name), demo, { edit: withMail });
    await w.deliverNight(NIGHT);
    await relay.down();
    const r = await w.nightly(NIGHT);
    await relay.up();
    expect(r.code).toBe(1);
    const deliver = step(summaryOf(r.stdout), 'deliver');
    console.log(`[faults/smtp] SMTP down: ${deliver.error?.message}`);
    expect(deliver.error?.code).toBe('DELIVERY_INCOMPLETE');
    expect(deliver.error?.message).toContain(
      `report mail daily for ${NIGHT} not sent (SMTP 127.0.0.1:${relay.port})`,
    );
    expect(deliver.error?.message).toContain('ECONNREFUSED');
    // The files of the night went out; only the mail waits.
    expect(await count(urlOf(w), "SELECT COUNT(*) AS n FROM files WHERE verdict = 'written'")).toBe(0);
    const [mail] = await outbox(w);
    expect(mail).toMatchObject({ message_id: messageId(NIGHT), status: 'pending', attempts: 1 });
    expect(mail?.last_error).toContain('ECONNREFUSED');
    expect(await halfPosted(urlOf(w))).toEqual([]);
    expect(received(messageId(NIGHT))).toBe(0);
    return w;
  }

  it('leaves the mail pending; redeye report send sends it once, and a rerun sends nothing', async () => {
    const w = await nightWithSmtpDown('report-send');
    const send = await w.cli(['report', 'send'], {});
    expect(send.code, send.stdout + send.stderr).toBe(0);
    expect(send.stdout).toContain('report mail: 1 sent, 0 failed for good, 0 pending');
    expect(received(messageId(NIGHT))).toBe(1);
    expect(await outbox(w)).toMatchObject([{ status: 'sent', attempts: 2 }]);
    // The night again, and the mail command again: nothing more goes out.
    const rerun = await w.nightly(NIGHT);
    expect(rerun.code, rerun.stdout).toBe(0);
    expect((await w.cli(['report', 'send'], {})).code).toBe(0);
    expect(received(messageId(NIGHT))).toBe(1);
    expect(await halfPosted(urlOf(w))).toEqual([]);
  }, 120_000);

  it("leaves the mail pending; the next night's deliver sends it with its own, each once", async () => {
    const w = await nightWithSmtpDown('next-night');
    await w.deliverNight(NEXT);
    const next = await w.nightly(NEXT);
    expect(next.code, next.stdout).toBe(0);
    expect(step(summaryOf(next.stdout), 'deliver').status).toBe('succeeded');
    expect(received(messageId(NIGHT))).toBe(1);
    expect(received(messageId(NEXT))).toBe(1);
    expect((await outbox(w)).map((m) => [m.message_id, m.status])).toEqual([
      [messageId(NIGHT), 'sent'],
      [messageId(NEXT), 'sent'],
    ]);
    expect(await halfPosted(urlOf(w))).toEqual([]);
  }, 120_000);
});
