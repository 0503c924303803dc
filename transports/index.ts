import type { TransportConfig } from '../config/schema.js';
import { LocalTransport } from './local.js';
import { SftpTransport } from './sftp.js';
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
    return new LocalTransport({ root: config.root, ...(options.clock ? { clock: options.clock } : {}) });
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
