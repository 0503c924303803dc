import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  createTransport,
  LocalTransport,
  SftpTransport,
  TransportError,
  unsetSecretProblems,
} from './index.js';

async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('transports from the Redeye configuration', () => {
  it('builds a local folder transport rooted where the configuration says', () => {
    const transport = createTransport({ type: 'local', root: '/var/lib/redeye/partners' });
    expect(transport).toBeInstanceOf(LocalTransport);
    expect(transport.endpoint).toBe('/var/lib/redeye/partners');
  });

  it('builds an SFTP transport that tries once plus the configured number of retries', async () => {
    const port = await closedPort();
    const sleeps: number[] = [];
    const transport = createTransport(
      {
        type: 'sftp',
        host: '127.0.0.1',
        port,
        username: 'redeye',
        passwordEnv: 'PARTNER_PASSWORD',
        hostKeySha256: 'SHA256:KiAcoCjbTwt9EOqdHrYOshkLb/mxDTnM4Wb9FEQ0v1M',
        retries: 2,
        timeoutSeconds: 5,
      },
      { env: { PARTNER_PASSWORD: 'x' }, clock: { sleep: async (ms) => void sleeps.push(ms) } },
    );
    expect(transport).toBeInstanceOf(SftpTransport);
    expect(transport.endpoint).toBe(`redeye@127.0.0.1:${port}`);
    const error = await transport.list('inbox', /./).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).message).toContain('gave up after 3 attempts');
    expect(sleeps).toHaveLength(2);
    await transport.close();
  });

  it('finds the secrets an SFTP transport in use would read that are not set, as connecting would', () => {
    const sftp = {
      type: 'sftp' as const,
      host: 'sftp.partner.example',
      port: 22,
      username: 'redeye',
      hostKeySha256: 'SHA256:KiAcoCjbTwt9EOqdHrYOshkLb/mxDTnM4Wb9FEQ0v1M',
      retries: 0,
      timeoutSeconds: 5,
    };
    const configs = {
      // A passphrase with no key to open is never read: not missing.
      password: { ...sftp, passwordEnv: 'P_PASSWORD', passphraseEnv: 'P_PASSPHRASE' },
      key: { ...sftp, privateKeyEnv: 'K_KEY', passphraseEnv: 'K_PASSPHRASE' },
      unused: { ...sftp, passwordEnv: 'U_PASSWORD' },
      local: { type: 'local' as const, root: '/srv/inbox' },
    };
    const uses = new Map([
      ['password', ['feed flown']],
      ['key', ['feed ftl', 'feed hotel']],
      ['local', ['feed partner']],
    ]);
    const env = { K_KEY: 'the key', K_PASSPHRASE: '' };
    expect(unsetSecretProblems(configs, uses, env)).toEqual([
      {
        path: 'transports.password.passwordEnv',
        message:
          'environment variable P_PASSWORD (SFTP password) is not set; transport password ' +
          '(redeye@sftp.partner.example:22) is used by feed flown',
      },
      {
        path: 'transports.key.passphraseEnv',
        message:
          'environment variable K_PASSPHRASE (key passphrase) is not set; transport key ' +
          '(redeye@sftp.partner.example:22) is used by feed ftl, feed hotel',
      },
    ]);
    expect(
      unsetSecretProblems(configs, new Map([['password', ['feed flown']]]), { P_PASSWORD: 'x' }),
    ).toEqual([]);
  });
});
