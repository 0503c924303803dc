/**
 * Sends report mails over SMTP (nodemailer) and says exactly what happened to each recipient.
 *
 * A night must not lose a report to a mail server that is restarting, nor send the commercial
 * department the same report five times. So:
 * - transient failures (connection refused or reset, timeouts, 4xx replies) are retried with
 *   exponential backoff; permanent ones (5xx) are not;
 * - when a server accepts some recipients and defers others, only the deferred ones are tried again
 *   (the envelope changes, the headers still name everyone);
 * - the caller supplies a deterministic Message-ID, the same on every attempt and every rerun, so a
 *   server or archive that deduplicates can drop the copy a retry after a lost reply would make.
 *
 * A night that is asked to stop (SIGTERM) must not sit out a dead server's timeouts and backoff: the
 * caller's abort signal closes the SMTP conversation in flight and ends a wait between attempts, and
 * the send ends with `MailInterruptedError` (the message is then not known to be delivered). A server
 * that accepts connections and never answers costs the connection and greeting timeouts (10 s each by
 * default), not minutes.
 *
 * Credentials are read from the environment at send time, from variables whose names the
 * configuration gives; they are never logged and never part of an error.
 */
import { hostname } from 'node:os';
import { setTimeout as wait } from 'node:timers/promises';
import nodemailer from 'nodemailer';
import { ConfigError, RedeyeError, type ConfigProblem } from '../lib/errors.js';
import { stopRequest } from '../lib/sleep.js';

export interface SmtpConfig {
  host: string;
  port: number;
  /** Implicit TLS from the first byte (usually port 465). */
  secure: boolean;
  /** On a plain connection, refuse to send unless the server upgrades with STARTTLS (port 587). */
  requireTLS?: boolean;
  /** Name of the environment variable holding the SMTP user; no authentication when absent. */
  userEnv?: string;
  /** Name of the environment variable holding the SMTP password. */
  passwordEnv?: string;
  /** Envelope sender and `From:` header, e.g. `Redeye <redeye@airline.example>`. */
  from: string;
  tls?: {
    /** CA certificates to trust for a server with a private certificate authority (PEM). */
    ca?: string | Buffer;
    /** Default true; false only for a test server. */
    rejectUnauthorized?: boolean;
    servername?: string;
  };
  /** Limit for the TCP (and TLS) connection; default 10 s. */
  connectionTimeoutMs?: number;
  /** Limit for the server's greeting once connected; default 10 s. */
  greetingTimeoutMs?: number;
  /** Limit for a silent server in the middle of the conversation; default 30 s. */
  socketTimeoutMs?: number;
  retry?: {
    /** Attempts in total, including the first; default 5. */
    attempts?: number;
    /** Wait before the second attempt, doubled for each further one; default 30 s. */
    initialDelayMs?: number;
    /** Longest wait between attempts; default 10 min. */
    maxDelayMs?: number;
  };
  /** Name announced in EHLO; default this machine's host name. */
  clientName?: string;
}

export interface InlineImage {
  /** Content-ID the HTML refers to as `cid:<cid>`. */
  cid: string;
  filename: string;
  content: Buffer;
  /** Default `image/png`. */
  contentType?: string;
}

export interface MailAttachment {
  filename: string;
  content: Buffer;
  contentType: string;
}

export interface ReportMessage {
  to: string[];
  cc?: string[];
  subject: string;
  html: string;
  text: string;
  inlineImages: InlineImage[];
  attachments: MailAttachment[];
  /** `<local@domain>`, deterministic for the report and business date (see `reportMessageId`). */
  messageId: string;
  /** `Date:` header; default the time of sending. */
  date?: Date;
}

export interface RejectedRecipient {
  address: string;
  /** The server's reply, or the error that ended the attempts. */
  response: string;
  responseCode?: number;
  /** True when the server refused for good; false when retries ran out on a temporary refusal. */
  permanent: boolean;
}

export interface SendOutcome {
  messageId: string;
  accepted: string[];
  rejected: RejectedRecipient[];
  attempts: number;
  /** The server's last reply to an accepted message. */
  response?: string;
}

/** Nothing was delivered; `outcome` says what each recipient got and how many attempts were made. */
export class MailDeliveryError extends RedeyeError {
  readonly outcome: SendOutcome;
  constructor(message: string, outcome: SendOutcome, options?: { cause?: unknown }) {
    super(
      'MAIL_NOT_DELIVERED',
      message,
      { messageId: outcome.messageId, attempts: outcome.attempts },
      options,
    );
    this.outcome = outcome;
  }
}

/** The send was stopped on request (SIGTERM) before the server confirmed the message. */
export class MailInterruptedError extends RedeyeError {
  constructor(messageId: string, reason: unknown, options?: { cause?: unknown }) {
    super(
      'INTERRUPTED',
      `${stopRequest(reason)} while sending report mail ${messageId}`,
      { messageId },
      options,
    );
  }
}

/** Defaults of the SMTP time limits (see `SmtpConfig`). */
const SMTP_TIMEOUT_DEFAULTS = { connectionMs: 10_000, greetingMs: 10_000, socketMs: 30_000 } as const;

/** The subset of a pino logger the mailer writes to. */
export interface MailLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export interface MailerDependencies {
  /** Waits between attempts, ending early (rejecting) when `signal` aborts; tests pass a recorder. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  logger?: MailLogger;
  /** Where credentials are read from; default `process.env`, read at every send. */
  env?: NodeJS.ProcessEnv;
}

export interface SendOptions {
  /** Aborting it closes the conversation in flight and ends a wait between attempts. */
  signal?: AbortSignal;
}

export interface Mailer {
  sendReport(message: ReportMessage, options?: SendOptions): Promise<SendOutcome>;
}

/** Minimal shape of the errors nodemailer reports (see its NodemailerError). */
interface SmtpFailure extends Error {
  code?: string;
  originalCode?: string;
  responseCode?: number;
  response?: string;
  recipient?: string;
  rejectedErrors?: SmtpFailure[];
}

interface SmtpInfo {
  accepted: Array<string | { address: string }>;
  rejected: Array<string | { address: string }>;
  rejectedErrors?: SmtpFailure[];
  response: string;
}

const MESSAGE_ID = /^<[^\s<>@]+@[^\s<>@]+>$/;

/**
 * A Message-ID that is the same for every send of one report for one business date:
 * `<daily-report.2024-05-01@redeye.airline.example>`. Add `variant` when one report goes out in
 * more than one version on the same date (e.g. a corrected rerun that must not be deduplicated).
 */
export function reportMessageId(parts: {
  report: string;
  businessDate: string;
  domain: string;
  variant?: string;
}): string {
  const clean = (text: string) =>
    text
      .toLowerCase()
      .replace(/[^a-z0-9.-]+/g, '-')
      .replace(/^-+|-+$/g, '');
  const left = [parts.report, parts.businessDate, parts.variant]
    .filter((p) => p !== undefined)
    .map((p) => clean(p as string));
  const domain = clean(parts.domain);
  if (left.some((p) => p.length === 0) || domain.length === 0) {
    throw new RedeyeError(
      'MAIL_MESSAGE_INVALID',
      'a Message-ID needs a report name, business date and domain',
    );
  }
  return `<${left.join('.')}@${domain}>`;
}

function normaliseMessageId(id: string): string {
  const bracketed = id.startsWith('<') ? id : `<${id}>`;
  if (!MESSAGE_ID.test(bracketed)) {
    throw new RedeyeError('MAIL_MESSAGE_INVALID', `not a Message-ID (<local@domain>): ${JSON.stringify(id)}`);
  }
  return bracketed;
}

function addressOf(entry: string | { address: string }): string {
  return typeof entry === 'string' ? entry : entry.address;
}

// Errors that end a connection rather than refuse a message: nodemailer's ECONNECTION, ESOCKET,
// ETIMEDOUT and DNS failures other than "no such host" (a typo in the configuration stays wrong).
const TRANSIENT_CODES = new Set([
  'ECONNECTION',
  'ESOCKET',
  'ETIMEDOUT',
  'EDNS',
  'ECONNREFUSED',
  'ECONNRESET',
]);

// Certificate and TLS handshake failures arrive as socket errors but are configuration problems:
// an expired or untrusted certificate is still expired or untrusted in ten minutes.
const TLS_FAILURE = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|ERR_SSL|EPROTO/;

/** Whether trying the same message again later can succeed. */
export function isTransientSmtpFailure(error: {
  code?: string;
  originalCode?: string;
  responseCode?: number;
  message?: string;
}): boolean {
  if (typeof error.responseCode === 'number') {
    // RFC 5321: 4yz is a transient negative reply, 5yz permanent. 503 (bad sequence) is a session
    // problem, not a verdict on the message, and goes through on a fresh connection.
    return (error.responseCode >= 400 && error.responseCode < 500) || error.responseCode === 503;
  }
  if (error.code === 'EDNS' && /ENOTFOUND/.test(error.message ?? '')) return false;
  if (error.originalCode !== undefined && TLS_FAILURE.test(error.originalCode)) return false;
  return error.code !== undefined && TRANSIENT_CODES.has(error.code);
}

/** nodemailer's message names the step and carries the server's reply, e.g. "Message failed: 451 …". */
function describeFailure(error: SmtpFailure): string {
  return error.message || error.response || 'refused';
}

function credentials(config: SmtpConfig, env: NodeJS.ProcessEnv): { user: string; pass: string } | undefined {
  if (config.userEnv === undefined || config.passwordEnv === undefined) return undefined;
  const problems: ConfigProblem[] = [];
  for (const [field, name] of [
    ['userEnv', config.userEnv],
    ['passwordEnv', config.passwordEnv],
  ] as const) {
    if (name !== undefined && !env[name]) {
      problems.push({ path: `mail.smtp.${field}`, message: `environment variable ${name} is not set` });
    }
  }
  if (problems.length > 0) throw new ConfigError('SMTP credentials are not available', problems);
  return { user: env[config.userEnv as string] as string, pass: env[config.passwordEnv as string] as string };
}

function validateConfig(config: SmtpConfig): void {
  const problems: ConfigProblem[] = [];
  if (!config.host) problems.push({ path: 'mail.smtp.host', message: 'required' });
  if (!Number.isInteger(config.port) || config.port < 1 || config.port > 65_535) {
    problems.push({ path: 'mail.smtp.port', message: `not a port number: ${config.port}` });
  }
  if (config.secure && config.requireTLS) {
    problems.push({
      path: 'mail.smtp.requireTLS',
      message: 'STARTTLS is for plain connections; secure is already TLS',
    });
  }
  if (!config.from) problems.push({ path: 'mail.smtp.from', message: 'required' });
  if ((config.userEnv === undefined) !== (config.passwordEnv === undefined)) {
    problems.push({ path: 'mail.smtp', message: 'userEnv and passwordEnv go together' });
  }
  const attempts = config.retry?.attempts ?? 5;
  if (!Number.isInteger(attempts) || attempts < 1) {
    problems.push({ path: 'mail.smtp.retry.attempts', message: 'must be a whole number of at least 1' });
  }
  if (problems.length > 0) throw new ConfigError('invalid SMTP configuration', problems);
}

/** The wait before attempt `attempt + 1`: initial, doubled each time, capped. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** (attempt - 1));
}

export function createMailer(config: SmtpConfig, dependencies: MailerDependencies = {}): Mailer {
  validateConfig(config);
  const sleep =
    dependencies.sleep ??
    ((ms: number, signal?: AbortSignal) => wait(ms, undefined, signal ? { signal } : {}));
  const logger = dependencies.logger;
  const attempts = config.retry?.attempts ?? 5;
  const initialDelay = config.retry?.initialDelayMs ?? 30_000;
  const maxDelay = config.retry?.maxDelayMs ?? 600_000;
  const where = { host: config.host, port: config.port };

  async function attempt(
    message: ReportMessage,
    messageId: string,
    envelopeTo: string[],
    signal: AbortSignal | undefined,
  ): Promise<SmtpInfo> {
    const auth = credentials(config, dependencies.env ?? process.env);
    const transport = nodemailer.createTransport({
      host: config.host,
      port: config.port,
      secure: config.secure,
      requireTLS: config.requireTLS ?? false,
      ...(auth ? { auth } : {}),
      tls: {
        rejectUnauthorized: config.tls?.rejectUnauthorized ?? true,
        ...(config.tls?.ca !== undefined ? { ca: config.tls.ca } : {}),
        ...(config.tls?.servername !== undefined ? { servername: config.tls.servername } : {}),
      },
      name: config.clientName ?? hostname(),
      connectionTimeout: config.connectionTimeoutMs ?? SMTP_TIMEOUT_DEFAULTS.connectionMs,
      greetingTimeout: config.greetingTimeoutMs ?? SMTP_TIMEOUT_DEFAULTS.greetingMs,
      socketTimeout: config.socketTimeoutMs ?? SMTP_TIMEOUT_DEFAULTS.socketMs,
      // nodemailer's own logging would print the SMTP dialogue, AUTH included.
      logger: false,
      debug: false,
    });
    try {
      const info = (await transport.sendMail({
        from: config.from,
        to: message.to,
        ...(message.cc && message.cc.length > 0 ? { cc: message.cc } : {}),
        subject: message.subject,
        text: message.text,
        html: message.html,
        messageId,
        ...(message.date ? { date: message.date } : {}),
        envelope: { from: config.from, to: envelopeTo },
        // nodemailer closes the connection on abort and fails the send with EABORT.
        ...(signal ? { signal } : {}),
        attachments: [
          ...message.inlineImages.map((image) => ({
            filename: image.filename,
            content: image.content,
            contentType: image.contentType ?? 'image/png',
            cid: image.cid,
            contentDisposition: 'inline' as const,
          })),
          ...message.attachments.map((attachment) => ({
            filename: attachment.filename,
            content: attachment.content,
            contentType: attachment.contentType,
          })),
        ],
      })) as unknown as SmtpInfo;
      return info;
    } finally {
      transport.close();
    }
  }

  async function sendReport(message: ReportMessage, options: SendOptions = {}): Promise<SendOutcome> {
    const messageId = normaliseMessageId(message.messageId);
    const signal = options.signal;
    /**
     * A stop request ends the send. Before any recipient has the message it is an error (the caller
     * keeps the mail to send again); after some have it, the outcome says who, and the rest are left
     * as not delivered for now, so a resend goes to them alone and no one gets it twice.
     */
    const stopped = (cause?: unknown): MailInterruptedError => {
      const error = new MailInterruptedError(
        messageId,
        signal?.reason,
        cause === undefined ? undefined : { cause },
      );
      if (accepted.length === 0) throw error;
      return error;
    };
    const everyone = [...message.to, ...(message.cc ?? [])];
    if (message.to.length === 0) {
      throw new RedeyeError('MAIL_MESSAGE_INVALID', 'a report mail needs at least one To: recipient', {
        messageId,
      });
    }
    const accepted: string[] = [];
    const rejected: RejectedRecipient[] = [];
    let pending = everyone;
    let response: string | undefined;
    let lastError: SmtpFailure | undefined;
    let made = 0;

    const refuse = (failures: SmtpFailure[]): string[] => {
      // Returns the recipients worth another attempt; records the others as refused for good.
      const again: string[] = [];
      for (const failure of failures) {
        const address = failure.recipient ?? '';
        if (isTransientSmtpFailure(failure)) again.push(address);
        else {
          rejected.push({
            address,
            response: describeFailure(failure),
            ...(failure.responseCode !== undefined ? { responseCode: failure.responseCode } : {}),
            permanent: true,
          });
        }
      }
      return again;
    };

    while (pending.length > 0 && made < attempts) {
      if (signal?.aborted) {
        lastError = stopped();
        break;
      }
      made++;
      try {
        const info = await attempt(message, messageId, pending, signal);
        const taken = info.accepted.map(addressOf);
        accepted.push(...taken);
        response = info.response;
        const failures = info.rejectedErrors ?? [];
        const listed = new Set(failures.map((f) => f.recipient));
        // A rejected address without a matching error is treated as a temporary refusal.
        for (const address of info.rejected.map(addressOf)) {
          if (!listed.has(address))
            failures.push(
              Object.assign(new Error('rejected'), {
                recipient: address,
                code: 'EENVELOPE',
                responseCode: 450,
              }),
            );
        }
        pending = refuse(failures);
        lastError = failures.find((f) => pending.includes(f.recipient ?? ''));
        logger?.info(
          { ...where, messageId, attempt: made, accepted: taken.length, deferred: pending.length },
          'report mail sent',
        );
      } catch (error) {
        if (error instanceof ConfigError) throw error;
        // Aborted by us, not refused by the server: nodemailer's EABORT must not read as a verdict.
        if (signal?.aborted) {
          lastError = stopped(error);
          break;
        }
        const failure = error as SmtpFailure;
        lastError = failure;
        if (failure.code === 'EENVELOPE' && failure.rejectedErrors && failure.rejectedErrors.length > 0) {
          pending = refuse(failure.rejectedErrors);
        } else if (!isTransientSmtpFailure(failure)) {
          for (const address of pending) {
            rejected.push({
              address,
              response: describeFailure(failure),
              ...(failure.responseCode !== undefined ? { responseCode: failure.responseCode } : {}),
              permanent: true,
            });
          }
          pending = [];
        }
        logger?.warn(
          {
            ...where,
            messageId,
            attempt: made,
            code: failure.code,
            responseCode: failure.responseCode,
            retrying: pending.length > 0 && made < attempts,
          },
          `report mail attempt failed: ${describeFailure(failure)}`,
        );
      }
      if (pending.length > 0 && made < attempts) {
        try {
          await sleep(backoffDelay(made, initialDelay, maxDelay), signal);
        } catch (error) {
          if (!signal?.aborted) throw error;
          lastError = stopped(error);
          break;
        }
      }
    }

    for (const address of pending) {
      rejected.push({
        address,
        response: lastError ? describeFailure(lastError) : 'not delivered',
        ...(lastError?.responseCode !== undefined ? { responseCode: lastError.responseCode } : {}),
        permanent: false,
      });
    }
    const outcome: SendOutcome = {
      messageId,
      accepted,
      rejected,
      attempts: made,
      ...(response !== undefined ? { response } : {}),
    };
    if (accepted.length === 0) {
      throw new MailDeliveryError(
        `report mail ${messageId} reached no recipient after ${made} attempt(s): ${lastError ? describeFailure(lastError) : 'refused'}`,
        outcome,
        { cause: lastError },
      );
    }
    return outcome;
  }

  return { sendReport };
}
