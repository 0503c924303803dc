/**
 * An SMTP address that takes connections and never answers, as a hung mail server does: what the mailer's
 * timeouts and a stop request must end. Loopback only; `stop()` closes every connection it took.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface SilentSmtp {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The connections taken so far, in order. */
  readonly sockets: readonly Socket[];
  /** Calls `fn` once, when the next connection comes. */
  onClient(fn: () => void): void;
  stop(): Promise<void>;
}

export async function startSilentSmtp(): Promise<SilentSmtp> {
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    server.emit('client');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    sockets,
    onClient: (fn) => void server.once('client', fn),
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
