import type { TransportConfig } from '../config/schema.js';
import { RedeyeError, type ConfigProblem } from '../lib/errors.js';
import { LocalTransport } from './local.js';
import { SftpTransport, unsetSecrets } from './sftp.js';
import type { Clock, Transport, TransportLogger } from './types.js';

export * from './types.js';
export * from './errors.js';
export { LocalTransport, type LocalTransportOptions } from './local.js';
export {
  SftpTransport,
  fingerprintOfKey,
  sftpConfigProblems,
  sshFingerprint,
  type SftpTransportConfig,
  type SftpTransportOptions,
} from './sftp.js';
export { TEMP_SUFFIX, isSafeName, unsafeNameReason } from './names.js';

export interface CreateTransportOptions {
  /** Where secrets named by the configuration are read. Default `process.env`. */
  env?: Record<string, string | undefined>;
  clock?: Clock;
  logger?: TransportLogger;
}

/**
 * The transport a `transports.<name>` entry of the Redeye configuration describes. The configuration
 * counts retries after the first try and gives one timeout in seconds; both SFTP timeouts take it.
 */
export function createTransport(config: TransportConfig, options: CreateTransportOptions = {}): Transport {
  if (config.type === 'local') {
    return new LocalTransport({ root: config.root });
  }
  const timeoutMs = config.timeoutSeconds * 1000;
  return new SftpTransport(
    {
      host: config.host,
      port: config.port,
      username: config.username,
      passwordEnv: config.passwordEnv,
      privateKeyEnv: config.privateKeyEnv,
      privateKeyPathEnv: config.privateKeyPathEnv,
      passphraseEnv: config.passphraseEnv,
      hostKeyFingerprint: config.hostKeySha256,
      connectTimeoutMs: timeoutMs,
      operationTimeoutMs: timeoutMs,
      retry: { attempts: config.retries + 1 },
    },
    options,
  );
}

/**
 * The secrets that the transports `uses` names would read when they connect and that `env` does not
 * hold, as configuration problems: `transports.<name>.<setting>`, the variable, what it holds, and what
 * uses the transport (a feed, the exports' outbox), never a value. Found before a run starts rather than
 * when the night connects, hours into it.
 */
export function unsetSecretProblems(
  configs: Readonly<Record<string, TransportConfig>>,
  uses: ReadonlyMap<string, readonly string[]>,
  env: Record<string, string | undefined>,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const [name, users] of uses) {
    const config = configs[name];
    if (config?.type !== 'sftp') continue;
    for (const { setting, variable, what } of unsetSecrets(config, env))
      problems.push({
        path: `transports.${name}.${setting}`,
        message:
          `environment variable ${variable} (${what}) is not set; transport ${name} ` +
          `(${config.username}@${config.host}:${config.port}) is used by ${users.join(', ')}`,
      });
  }
  return problems;
}

/**
 * The transports a job uses, by configured name: each made on first use and kept for the rest of the
 * job (one SFTP session per server, not one per file), all closed by `close()`. A name the configuration
 * does not define (the configuration checks every name it sets) is UNKNOWN_TRANSPORT, naming it.
 */
export class TransportsByName {
  private readonly made = new Map<string, Transport>();

  constructor(
    private readonly configs: Readonly<Record<string, TransportConfig>>,
    private readonly options: CreateTransportOptions = {},
  ) {}

  get(name: string): Transport {
    let t = this.made.get(name);
    if (!t) {
      const cfg = this.configs[name];
      if (!cfg) throw new RedeyeError('UNKNOWN_TRANSPORT', `no transport named ${name}`, { transport: name });
      t = createTransport(cfg, this.options);
      this.made.set(name, t);
    }
    return t;
  }

  /** Closes every transport made; a failure to close one is not the job's failure. */
  async close(): Promise<void> {
    for (const t of this.made.values()) await t.close().catch(() => undefined);
    this.made.clear();
  }
}
