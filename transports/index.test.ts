import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createTransport, LocalTransport, SftpTransport, TransportError } from './index.js';

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
});
