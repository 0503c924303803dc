import { startSilentSmtp } from '../test/harness/smtp-silent.js';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../lib/errors.js';
import { startInProcessSmtp, type InProcessSmtp } from '../test/harness/smtp-inprocess.js';
import {
  backoffDelay,
  createMailer,
  isTransientSmtpFailure,
  MailDeliveryError,
  MailInterruptedError,
  reportMessageId,
  type MailLogger,
  type ReportMessage,
  type SmtpConfig,
} from './mailer.js';

const png = Buffer.from(
  '89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
    '1f15c4890000000d49444154789c6360f8cfc0000003010100c9fe92ef0000000049454e44ae426082',
  'hex',
);
const workbook = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31 + 7) % 256));

function message(overrides: Partial<ReportMessage> = {}): ReportMessage {
  return {
    to: ['commercial@airline.example'],
    cc: ['revenue@airline.example'],
    subject: 'Daily loyalty report — 2024-05-01',
    html: '<p>Accrual <img src="cid:chart-accrual@redeye"></p>',
    text: 'Accrual',
    inlineImages: [{ cid: 'chart-accrual@redeye', filename: 'accrual.png', content: png }],
    attachments: [
      {
        filename: 'daily-2024-05-01.xlsx',
        content: workbook,
        contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
      },
    ],
    messageId: '<daily-loyalty-report.2024-05-01@redeye.airline.example>',
    date: new Date('2024-05-02T04:00:00Z'),
    ...overrides,
  };
}

const servers: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function smtp(options: Parameters<typeof startInProcessSmtp>[0] = {}): Promise<InProcessSmtp> {
  const server = await startInProcessSmtp(options);
  servers.push(server);
  return server;
}

function recorder() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

function configFor(server: { host: string; port: number }, overrides: Partial<SmtpConfig> = {}): SmtpConfig {
  return {
    host: server.host,
    port: server.port,
    secure: false,
    from: 'Redeye <redeye@airline.example>',
    retry: { attempts: 4, initialDelayMs: 1000, maxDelayMs: 3000 },
    connectionTimeoutMs: 5000,
    greetingTimeoutMs: 5000,
    socketTimeoutMs: 5000,
    ...overrides,
  };
}

describe('sendReport', () => {
  it('delivers the report with its chart inline and the workbook attached, under the given Message-ID', async () => {
    const server = await smtp();
    const outcome = await createMailer(configFor(server)).sendReport(message());
    expect(outcome).toEqual({
      messageId: '<daily-loyalty-report.2024-05-01@redeye.airline.example>',
      accepted: ['commercial@airline.example', 'revenue@airline.example'],
      rejected: [],
      attempts: 1,
      response: expect.stringContaining('250'),
    });
    const [received] = server.messages;
    expect(received?.parsed.messageId).toBe('<daily-loyalty-report.2024-05-01@redeye.airline.example>');
    expect(received?.parsed.subject).toBe('Daily loyalty report — 2024-05-01');
    expect(received?.parsed.date?.toISOString()).toBe('2024-05-02T04:00:00.000Z');
    const attachments = received?.parsed.attachments ?? [];
    const inline = attachments.find((a) => a.cid === 'chart-accrual@redeye');
    expect(inline?.contentType).toBe('image/png');
    expect(inline?.contentDisposition).toBe('inline');
    expect(inline?.content.equals(png)).toBe(true);
    const xlsx = attachments.find((a) => a.filename === 'daily-2024-05-01.xlsx');
    expect(xlsx?.contentDisposition).toBe('attachment');
    expect(xlsx?.content.equals(workbook)).toBe(true);
  });

  it('retries temporary refusals with exponential backoff and sends the message once', async () => {
    const server = await smtp();
    server.failNext(2, 451);
    const { waits, sleep } = recorder();
    const outcome = await createMailer(configFor(server), { sleep }).sendReport(message());
    expect(outcome.attempts).toBe(3);
    expect(outcome.accepted).toHaveLength(2);
    expect(waits).toEqual([1000, 2000]);
    expect(server.messages).toHaveLength(1);
  });

  it('retries when the server closes with 421 at the greeting', async () => {
    const server = await smtp();
    server.failNext(1, 421, 'connect');
    const { waits, sleep } = recorder();
    const outcome = await createMailer(configFor(server), { sleep }).sendReport(message());
    expect(outcome.attempts).toBe(2);
    expect(waits).toEqual([1000]);
    expect(server.messages).toHaveLength(1);
  });

  it('does not retry a permanent refusal and reports it for every recipient', async () => {
    const server = await smtp();
    server.failNext(1, 554);
    const { waits, sleep } = recorder();
    const error = await createMailer(configFor(server), { sleep })
      .sendReport(message())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MailDeliveryError);
    const outcome = (error as MailDeliveryError).outcome;
    expect(outcome.attempts).toBe(1);
    expect(outcome.accepted).toEqual([]);
    expect(outcome.rejected.map((r) => [r.address, r.responseCode, r.permanent])).toEqual([
      ['commercial@airline.example', 554, true],
      ['revenue@airline.example', 554, true],
    ]);
    expect(waits).toEqual([]);
    expect(server.connections).toBe(1);
  });

  it('gives up after the configured attempts when nothing listens, with waits capped', async () => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const { waits, sleep } = recorder();
    const error = await createMailer(configFor({ host: '127.0.0.1', port }), { sleep })
      .sendReport(message())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MailDeliveryError);
    const outcome = (error as MailDeliveryError).outcome;
    expect(outcome.attempts).toBe(4);
    expect(outcome.rejected.every((r) => !r.permanent && /ECONNREFUSED/.test(r.response))).toBe(true);
    expect(waits).toEqual([1000, 2000, 3000]);
  });

  it('treats a server that never answers as a timeout worth retrying', async () => {
    const silent = await startSilentSmtp();
    servers.push(silent);
    const { port, sockets } = silent;
    const { waits, sleep } = recorder();
    const config = configFor(
      { host: '127.0.0.1', port },
      { greetingTimeoutMs: 300, retry: { attempts: 2, initialDelayMs: 10 } },
    );
    const error = await createMailer(config, { sleep })
      .sendReport(message())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MailDeliveryError);
    expect((error as MailDeliveryError).outcome.attempts).toBe(2);
    expect(sockets).toHaveLength(2);
    expect(waits).toEqual([10]);
  });

  it('stops at once on a stop request while a server that never answers holds the conversation', async () => {
    const silent = await startSilentSmtp();
    servers.push(silent);
    const { port, sockets } = silent;
    const { waits, sleep } = recorder();
    // Limits far beyond the test's own timeout: only the stop request can end the send in time.
    const config = configFor(
      { host: '127.0.0.1', port },
      { greetingTimeoutMs: 600_000, socketTimeoutMs: 600_000, retry: { attempts: 3, initialDelayMs: 10 } },
    );
    const controller = new AbortController();
    silent.onClient(() => controller.abort('SIGTERM'));
    const error = await createMailer(config, { sleep })
      .sendReport(message(), { signal: controller.signal })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MailInterruptedError);
    expect((error as MailInterruptedError).message).toBe(
      'stopped on request (SIGTERM) while sending report mail <daily-loyalty-report.2024-05-01@redeye.airline.example>',
    );
    // No second attempt, no wait: the conversation was closed and the send ended there.
    expect(sockets).toHaveLength(1);
    expect(waits).toEqual([]);
    if (!sockets[0]!.closed) await once(sockets[0]!, 'close');
  });

  it('ends the wait between attempts on a stop request, without another attempt', async () => {
    const server = await smtp();
    server.failNext(5, 451);
    const controller = new AbortController();
    // The real wait (30 s by default) is what must be cut short.
    const sleep = (ms: number, signal?: AbortSignal) =>
      new Promise<void>((_resolve, reject) => {
        signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
        controller.abort('SIGTERM');
      });
    const error = await createMailer(configFor(server, { retry: { attempts: 5, initialDelayMs: 30_000 } }), {
      sleep,
    })
      .sendReport(message(), { signal: controller.signal })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MailInterruptedError);
    expect(server.refusals).toBe(1);
    expect(server.messages).toHaveLength(0);
  });

  it('keeps what recipients already took when a stop request ends the retries of the others', async () => {
    const server = await smtp();
    server.rejectRecipient('busy@airline.example', 450);
    const controller = new AbortController();
    const outcome = await createMailer(configFor(server), {
      sleep: async () => void controller.abort('SIGTERM'),
    }).sendReport(message({ to: ['commercial@airline.example', 'busy@airline.example'], cc: [] }), {
      signal: controller.signal,
    });
    expect(outcome.accepted).toEqual(['commercial@airline.example']);
    expect(outcome.rejected).toEqual([
      {
        address: 'busy@airline.example',
        response: expect.stringContaining('stopped on request (SIGTERM)'),
        permanent: false,
      },
    ]);
    expect(server.messages).toHaveLength(1);
  });

  it('retries only the recipients a server deferred, keeping everyone in the headers', async () => {
    const server = await smtp();
    server.rejectRecipient('gone@airline.example', 550);
    server.rejectRecipient('busy@airline.example', 450, 2);
    const { waits, sleep } = recorder();
    const outcome = await createMailer(configFor(server), { sleep }).sendReport(
      message({ to: ['commercial@airline.example', 'gone@airline.example', 'busy@airline.example'], cc: [] }),
    );
    expect(outcome.accepted).toEqual(['commercial@airline.example', 'busy@airline.example']);
    expect(outcome.rejected).toEqual([
      {
        address: 'gone@airline.example',
        response: expect.stringContaining('550'),
        responseCode: 550,
        permanent: true,
      },
    ]);
    expect(outcome.attempts).toBe(3);
    expect(waits).toEqual([1000, 2000]);
    expect(server.messages.map((m) => m.envelope.to)).toEqual([
      ['commercial@airline.example'],
      ['busy@airline.example'],
    ]);
    for (const received of server.messages) {
      expect(received.parsed.messageId).toBe(outcome.messageId);
      expect(received.parsed.headers.get('to')).toMatchObject({
        value: [
          { address: 'commercial@airline.example' },
          { address: 'gone@airline.example' },
          { address: 'busy@airline.example' },
        ],
      });
    }
  });

  it('returns a partial delivery instead of failing when some recipients stay deferred', async () => {
    const server = await smtp();
    server.rejectRecipient('busy@airline.example', 452);
    const { sleep } = recorder();
    const outcome = await createMailer(configFor(server, { retry: { attempts: 2, initialDelayMs: 5 } }), {
      sleep,
    }).sendReport(message({ to: ['commercial@airline.example', 'busy@airline.example'], cc: [] }));
    expect(outcome.accepted).toEqual(['commercial@airline.example']);
    expect(outcome.rejected).toEqual([
      {
        address: 'busy@airline.example',
        response: expect.stringContaining('452'),
        responseCode: 452,
        permanent: false,
      },
    ]);
  });

  it('reads credentials from the environment at send time and logs in with them', async () => {
    const server = await smtp({ auth: { user: 'redeye', pass: 's3cret-Pa55' } });
    const env: NodeJS.ProcessEnv = {};
    const mailer = createMailer(
      configFor(server, { userEnv: 'REDEYE_SMTP_USER', passwordEnv: 'REDEYE_SMTP_PASSWORD' }),
      {
        env,
      },
    );
    env.REDEYE_SMTP_USER = 'redeye';
    env.REDEYE_SMTP_PASSWORD = 's3cret-Pa55';
    await mailer.sendReport(message());
    expect(server.messages[0]?.user).toBe('redeye');
  });

  it('names a missing credential variable without connecting or retrying', async () => {
    const server = await smtp({ auth: { user: 'redeye', pass: 's3cret-Pa55' } });
    const { waits, sleep } = recorder();
    const mailer = createMailer(
      configFor(server, { userEnv: 'REDEYE_SMTP_USER', passwordEnv: 'REDEYE_SMTP_PASSWORD' }),
      { env: { REDEYE_SMTP_USER: 'redeye' }, sleep },
    );
    const error = await mailer.sendReport(message()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).describe()).toContain('REDEYE_SMTP_PASSWORD is not set');
    expect(server.connections).toBe(0);
    expect(waits).toEqual([]);
  });

  it('never puts the password into logs or errors, even when the login fails', async () => {
    const server = await smtp({ auth: { user: 'redeye', pass: 'right-password' } });
    const lines: string[] = [];
    const logger: MailLogger = {
      info: (details, text) => lines.push(JSON.stringify(details) + text),
      warn: (details, text) => lines.push(JSON.stringify(details) + text),
    };
    const secret = 'Wr0ng-But-Secret-Value';
    const mailer = createMailer(configFor(server, { userEnv: 'U', passwordEnv: 'P' }), {
      env: { U: 'redeye', P: secret },
      logger,
      sleep: recorder().sleep,
    });
    const error = (await mailer.sendReport(message()).catch((e: unknown) => e)) as MailDeliveryError;
    expect(error).toBeInstanceOf(MailDeliveryError);
    // 535 is a permanent refusal: a wrong password does not get better by trying it five times.
    expect(error.outcome.attempts).toBe(1);
    const everything = [
      ...lines,
      error.message,
      JSON.stringify(error.toJSON()),
      JSON.stringify(error.outcome),
      String((error as Error & { cause?: unknown }).cause),
    ].join('\n');
    expect(lines.length).toBeGreaterThan(0);
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain(Buffer.from(`\u0000redeye\u0000${secret}`).toString('base64'));
  });

  it('upgrades with STARTTLS when TLS is required', async () => {
    const server = await smtp({ startTls: true });
    await createMailer(
      configFor(server, { requireTLS: true, tls: { rejectUnauthorized: false } }),
    ).sendReport(message());
    expect(server.messages[0]?.secure).toBe(true);
  });

  it('refuses to send in clear when TLS is required and the server does not offer it', async () => {
    const server = await smtp({ startTls: false });
    const { waits, sleep } = recorder();
    const error = await createMailer(configFor(server, { requireTLS: true }), { sleep })
      .sendReport(message())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MailDeliveryError);
    expect((error as MailDeliveryError).outcome.rejected[0]?.response).toMatch(/TLS/);
    expect(server.messages).toHaveLength(0);
    expect(waits).toEqual([]);
  });

  it('speaks implicit TLS and checks the certificate unless told otherwise', async () => {
    const server = await smtp({ secure: true });
    await createMailer(configFor(server, { secure: true, tls: { rejectUnauthorized: false } })).sendReport(
      message(),
    );
    expect(server.messages[0]?.secure).toBe(true);
    const { waits, sleep } = recorder();
    const error = await createMailer(configFor(server, { secure: true }), { sleep })
      .sendReport(message())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MailDeliveryError);
    expect((error as MailDeliveryError).outcome.rejected[0]?.response).toMatch(/certificate/i);
    expect(waits).toEqual([]);
    expect(server.messages).toHaveLength(1);
  });

  it('rejects a malformed Message-ID and an empty To list before connecting', async () => {
    const server = await smtp();
    const mailer = createMailer(configFor(server));
    await expect(mailer.sendReport(message({ messageId: 'two words@x' }))).rejects.toMatchObject({
      code: 'MAIL_MESSAGE_INVALID',
    });
    await expect(mailer.sendReport(message({ to: [] }))).rejects.toMatchObject({
      code: 'MAIL_MESSAGE_INVALID',
    });
    expect(server.connections).toBe(0);
    const bare = await mailer.sendReport(message({ messageId: 'bare.id@redeye.example' }));
    expect(bare.messageId).toBe('<bare.id@redeye.example>');
  });
});

describe('mail configuration', () => {
  it('lists every problem of an SMTP configuration at once', () => {
    let error: unknown;
    try {
      createMailer({ host: '', port: 70_000, secure: true, requireTLS: true, from: '', userEnv: 'U' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.path)).toEqual([
      'mail.smtp.host',
      'mail.smtp.port',
      'mail.smtp.requireTLS',
      'mail.smtp.from',
      'mail.smtp',
    ]);
  });
});

describe('retry policy', () => {
  it('classifies SMTP failures the way RFC 5321 does', () => {
    expect(isTransientSmtpFailure({ responseCode: 421 })).toBe(true);
    expect(isTransientSmtpFailure({ responseCode: 451 })).toBe(true);
    expect(isTransientSmtpFailure({ responseCode: 503 })).toBe(true);
    expect(isTransientSmtpFailure({ responseCode: 550 })).toBe(false);
    expect(isTransientSmtpFailure({ responseCode: 535, code: 'EAUTH' })).toBe(false);
    expect(isTransientSmtpFailure({ code: 'ESOCKET', message: 'connect ECONNREFUSED' })).toBe(true);
    expect(isTransientSmtpFailure({ code: 'ETIMEDOUT' })).toBe(true);
    expect(isTransientSmtpFailure({ code: 'EDNS', message: 'getaddrinfo EAI_AGAIN smtp' })).toBe(true);
    expect(isTransientSmtpFailure({ code: 'EDNS', message: 'getaddrinfo ENOTFOUND smtp' })).toBe(false);
    expect(isTransientSmtpFailure({ code: 'ETLS' })).toBe(false);
    expect(isTransientSmtpFailure({ code: 'ESOCKET', originalCode: 'CERT_HAS_EXPIRED' })).toBe(false);
    expect(isTransientSmtpFailure({ code: 'ESOCKET', originalCode: 'ECONNRESET' })).toBe(true);
  });

  it('doubles the wait after each attempt up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, 30_000, 600_000))).toEqual([
      30_000, 60_000, 120_000, 240_000, 480_000, 600_000,
    ]);
  });
});

describe('reportMessageId', () => {
  it('is the same for the same report and date, and differs by variant', () => {
    const a = reportMessageId({
      report: 'Daily loyalty report',
      businessDate: '2024-05-01',
      domain: 'redeye.airline.example',
    });
    expect(a).toBe('<daily-loyalty-report.2024-05-01@redeye.airline.example>');
    expect(
      reportMessageId({
        report: 'Daily loyalty report',
        businessDate: '2024-05-01',
        domain: 'redeye.airline.example',
      }),
    ).toBe(a);
    expect(
      reportMessageId({
        report: 'Daily loyalty report',
        businessDate: '2024-05-01',
        domain: 'redeye.airline.example',
        variant: 'correction 1',
      }),
    ).toBe('<daily-loyalty-report.2024-05-01.correction-1@redeye.airline.example>');
  });
});
