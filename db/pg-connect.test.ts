/**
 * A PostgreSQL database Redeye cannot connect to is one line naming it (password masked) and what is
 * wrong, with a stable code, and nothing else on the console: knex printed `Acquire connection error:
 * Error: connect ECONNREFUSED … at TCPConnectWrap…` and the command then said only `error [ECONNREFUSED]`.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { inject } from 'vitest';
import { RedeyeError } from '../lib/errors.js';
import { availableEngines } from '../test/harness/db.js';
import { openDb, type Db } from './connection.js';

async function failure(fn: () => Promise<unknown>): Promise<RedeyeError> {
  try {
    await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(RedeyeError);
    return error as RedeyeError;
  }
  throw new Error('expected a failure');
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}

/** A loopback port nothing listens on: taken, then given back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A PostgreSQL ErrorResponse message (FATAL, with its SQLSTATE). */
function errorResponse(code: string, message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0\0`, 'utf8');
  const head = Buffer.alloc(5);
  head.write('E', 0);
  head.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([head, fields]);
}

/**
 * A server that speaks just enough of the protocol to refuse a login: it asks for the password in clear
 * (so the client sends it), then answers 28P01; or refuses at once with 28000 as pg_hba.conf does.
 */
async function refusingServer(code: '28P01' | '28000'): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let messages = 0;
    socket.on('data', () => {
      messages += 1;
      if (code === '28000') {
        socket.end(errorResponse(code, 'no pg_hba.conf entry for host "127.0.0.1", user "u", database "x"'));
      } else if (messages === 1) {
        socket.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3])); // AuthenticationCleartextPassword
      } else {
        socket.end(errorResponse(code, 'password authentication failed for user "u"'));
      }
    });
  });
  const port = await listen(server);
  return {
    port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('a PostgreSQL database that cannot be reached or refuses the login', () => {
  let opened: Db[];
  let console: string[];
  beforeEach(() => {
    opened = [];
    console = [];
    for (const method of ['log', 'warn', 'error'] as const)
      vi.spyOn(globalThis.console, method).mockImplementation((...args: unknown[]) => {
        console.push(args.map(String).join(' '));
      });
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const db of opened) await db.close();
  });
  const open = (url: string) => {
    const db = openDb(url, { requireMigrated: true });
    opened.push(db);
    return db;
  };

  it('a closed port: DATABASE_UNREACHABLE naming the masked URL, exit 1, nothing printed', async () => {
    const port = await closedPort();
    const url = `postgres://redeye:s3cret-pw@127.0.0.1:${port}/night`;
    const e = await failure(() => open(url).knex('files').first());
    expect(e).toMatchObject({ code: 'DATABASE_UNREACHABLE', exitCode: 1 });
    expect(e.message).toBe(
      `cannot connect to the database postgres://redeye:***@127.0.0.1:${port}/night: ` +
        'the connection was refused: is PostgreSQL running and listening on that host and port?',
    );
    expect(e.context).toEqual({
      database: `postgres://redeye:***@127.0.0.1:${port}/night`,
      driverCode: 'ECONNREFUSED',
    });
    expect(JSON.stringify(e.toJSON())).not.toContain('s3cret-pw');
    expect(console).toEqual([]);
  });

  it('a wrong password (28P01): DATABASE_LOGIN_FAILED, exit 2, the password never shown', async () => {
    const server = await refusingServer('28P01');
    try {
      const url = `postgres://u:s3cret-pw@127.0.0.1:${server.port}/x`;
      const e = await failure(() => open(url).knex('files').first());
      expect(e).toMatchObject({ code: 'DATABASE_LOGIN_FAILED', exitCode: 2 });
      expect(e.message).toBe(
        `cannot log in to the database postgres://u:***@127.0.0.1:${server.port}/x: password authentication ` +
          'failed for user "u" (check the user and password in database.url or REDEYE_DATABASE_URL)',
      );
      expect(e.context).toMatchObject({ driverCode: '28P01' });
      expect(JSON.stringify(e.toJSON()) + e.message).not.toContain('s3cret-pw');
      expect(console).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('a login pg_hba.conf refuses (28000): DATABASE_LOGIN_FAILED, exit 2', async () => {
    const server = await refusingServer('28000');
    try {
      const e = await failure(() => open(`postgres://u@127.0.0.1:${server.port}/x`).knex('files').first());
      expect(e).toMatchObject({ code: 'DATABASE_LOGIN_FAILED', exitCode: 2 });
      expect(e.message).toMatch(
        /^cannot log in to the database postgres:\/\/u@127\.0\.0\.1:\d+\/x: no pg_hba\.conf entry .* \(the server's pg_hba\.conf or the role does not allow this login\)$/,
      );
    } finally {
      await server.close();
    }
  });

  it('a host name that does not resolve: DATABASE_UNREACHABLE', async () => {
    const e = await failure(() =>
      open('postgres://u:pw@redeye-no-such-host.invalid/x').knex('files').first(),
    );
    expect(e.code).toBe('DATABASE_UNREACHABLE');
    expect(e.message).toMatch(
      /^cannot connect to the database postgres:\/\/u:\*\*\*@redeye-no-such-host\.invalid\/x: the host name (is not known|could not be resolved)/,
    );
  });

  if (availableEngines().includes('postgres')) {
    it('a database the server does not have (3D000): DATABASE_MISSING, exit 2, as a SQLite path with no file', async () => {
      const url = inject('pgUrl')!.replace(/\/[^/]*$/, '/redeye_never_created');
      const e = await failure(() => open(url).knex('files').first());
      expect(e).toMatchObject({ code: 'DATABASE_MISSING', exitCode: 2 });
      expect(e.context).toMatchObject({ driverCode: '3D000' });
      expect(e.message).toMatch(
        /^the database postgres:\/\/\S+\/redeye_never_created does not exist on that server: check the database name in database\.url and REDEYE_DATABASE_URL, or create it \(createdb\) and run `redeye db migrate`$/,
      );
      expect(console).toEqual([]);
    });
  }
});
