/**
 * An SMTP server inside the test process (smtp-server) on a random loopback port. It records every
 * message it accepts (envelope, raw bytes, mailparser's reading of it, TLS and login state) and can
 * be told to misbehave: refuse the next N connections or deliveries with a temporary (421/451) or
 * permanent (5xx) reply, or refuse particular recipients.
 */
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from 'smtp-server';

export interface ReceivedMessage {
  envelope: { from: string; to: string[] };
  raw: Buffer;
  parsed: ParsedMail;
  /** Whether the session was encrypted (implicit TLS or STARTTLS). */
  secure: boolean;
  /** The user that logged in, if any. */
  user?: string;
}

export interface InProcessSmtpOptions {
  /** Require this login (AUTH PLAIN/LOGIN, allowed without TLS for the test). */
  auth?: { user: string; pass: string };
  /**
   * Implicit TLS with smtp-server's built-in certificate (self-signed and expired: clients must be
   * told not to verify it, which is itself a check that verification is on by default).
   */
  secure?: boolean;
  /** Offer STARTTLS (built-in certificate as above); default false. */
  startTls?: boolean;
}

export type FailureStage = 'connect' | 'data';

export interface InProcessSmtp {
  host: string;
  port: number;
  readonly messages: ReceivedMessage[];
  /** Connections opened so far. */
  readonly connections: number;
  /** Deliveries refused so far by `failNext`. */
  readonly refusals: number;
  /** Refuse the next `count` connections (at the greeting) or messages (after DATA) with `code`. */
  failNext(count: number, code?: number, stage?: FailureStage): void;
  /** Refuse `address` at RCPT TO with `code` for the next `times` attempts (default: always). */
  rejectRecipient(address: string, code: number, times?: number): void;
  stop(): Promise<void>;
}

function smtpError(message: string, code: number): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: code });
}

export async function startInProcessSmtp(options: InProcessSmtpOptions = {}): Promise<InProcessSmtp> {
  const messages: ReceivedMessage[] = [];
  let connections = 0;
  let refusals = 0;
  let failures: { count: number; code: number; stage: FailureStage } = { count: 0, code: 451, stage: 'data' };
  const recipientRules = new Map<string, { code: number; times: number }>();

  const refuse = (stage: FailureStage): Error | undefined => {
    if (failures.count <= 0 || failures.stage !== stage) return undefined;
    failures.count--;
    refusals++;
    const text =
      failures.code < 500 ? 'Service temporarily unavailable, try again later' : 'Refused for good';
    return smtpError(text, failures.code);
  };

  const server = new SMTPServer({
    secure: options.secure ?? false,
    // Not just hidden: a client that insists on STARTTLS must find the command missing.
    ...(options.startTls ? {} : { disabledCommands: ['STARTTLS'] }),
    authOptional: options.auth === undefined,
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    size: 50 * 1024 * 1024,
    onConnect(_session, callback) {
      connections++;
      callback(refuse('connect') ?? null);
    },
    onAuth(auth, _session, callback) {
      if (options.auth && auth.username === options.auth.user && auth.password === options.auth.pass) {
        callback(null, { user: auth.username });
      } else {
        callback(smtpError('Authentication failed', 535));
      }
    },
    onRcptTo(address: SMTPServerAddress, _session, callback) {
      const rule = recipientRules.get(address.address.toLowerCase());
      if (rule && rule.times > 0) {
        rule.times--;
        callback(smtpError(rule.code < 500 ? 'Mailbox busy, try later' : 'No such user', rule.code));
        return;
      }
      callback();
    },
    onData(stream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const refusal = refuse('data');
        if (refusal) {
          callback(refusal);
          return;
        }
        const raw = Buffer.concat(chunks);
        simpleParser(raw).then(
          (parsed) => {
            messages.push({
              envelope: {
                from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
                to: session.envelope.rcptTo.map((r) => r.address),
              },
              raw,
              parsed,
              secure: session.secure,
              ...(typeof session.user === 'string' ? { user: session.user } : {}),
            });
            callback(null, 'Queued');
          },
          (error: unknown) => callback(error as Error),
        );
      });
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Errors on client sockets (a client that hangs up) are normal in these tests.
  server.on('error', () => undefined);
  const { port } = server.server.address() as AddressInfo;

  return {
    host: '127.0.0.1',
    port,
    messages,
    get connections() {
      return connections;
    },
    get refusals() {
      return refusals;
    },
    failNext(count, code = 451, stage = 'data') {
      failures = { count, code, stage };
    },
    rejectRecipient(address, code, times = Number.POSITIVE_INFINITY) {
      recipientRules.set(address.toLowerCase(), { code, times });
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
