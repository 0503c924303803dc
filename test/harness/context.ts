/**
 * A job context for tests: the demo program's configuration with its folders moved into a temporary
 * directory, a real database (SQLite or PostgreSQL), a pinned clock and a silent logger.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { parseDocument } from 'yaml';
import { parseConfig, type LoadedConfig } from '../../config/load.js';
import { silentLogger } from '../../lib/log.js';
import { noProgress, type JobContext } from '../../jobs/types.js';
import { createTestDatabase, type Engine, type TestDb } from './db.js';
import type { InProcessSftp } from './sftp-inprocess.js';

export const EXAMPLE_CONFIG = resolve(import.meta.dirname, '../../examples/redeye.config.yaml');

export interface TestWorld {
  dir: string;
  config: LoadedConfig;
  t: TestDb;
  ctx(businessDate: string, now?: Date): JobContext;
  cleanup(): Promise<void>;
}

/** `edit` may rewrite the YAML text (e.g. switch the expiry policy) before it is parsed. */
export async function createWorld(
  engine: Engine,
  edit: (yaml: string) => string = (y) => y,
): Promise<TestWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'redeye-world-'));
  for (const d of ['inbox', 'outbox', 'delivered', 'landing', 'reports'])
    mkdirSync(join(dir, d), { recursive: true });
  let yaml = readFileSync(EXAMPLE_CONFIG, 'utf8').replaceAll('../var/', './');
  yaml = edit(yaml);
  const config = parseConfig(yaml, join(dir, 'redeye.config.yaml'), {});
  for (const feed of Object.values(config.feeds)) {
    const root = feed && config.transports[feed.source];
    if (root && root.type === 'local') mkdirSync(join(root.root, feed.remoteDir), { recursive: true });
  }
  const t = await createTestDatabase(engine);
  config.database.url = t.url;
  return {
    dir,
    config,
    t,
    ctx: (businessDate, now = new Date(`${businessDate}T23:30:00Z`)) => ({
      db: t.db,
      config,
      logger: silentLogger,
      businessDate,
      now: () => now,
      progress: noProgress,
      env: {},
    }),
    cleanup: async () => {
      await t.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh world for every test of the enclosing suite, cleaned up after it; read it through the getter. */
export function useWorld(engine: Engine, edit?: (yaml: string) => string): () => TestWorld {
  let w: TestWorld | undefined;
  beforeEach(async () => {
    w = await createWorld(engine, edit);
  });
  afterEach(async () => {
    await w?.cleanup();
    w = undefined;
  });
  return () => w!;
}

/**
 * A world whose feed `flown` reads the folder `inbox` of an in-process SFTP server (`sftp-inprocess.ts`)
 * as the transport `partner`, its password in `PARTNER_SFTP_PASSWORD` of the job's env, tried once (a
 * test that wants a retry says so), with `feed`'s settings (`afterFetch`, …) added to the feed's.
 */
export function createSftpWorld(
  server: InProcessSftp,
  feed: Record<string, unknown> = {},
): Promise<TestWorld> {
  return createWorld('sqlite', (yaml) => {
    const doc = parseDocument(yaml);
    doc.setIn(['transports', 'partner'], {
      type: 'sftp',
      host: server.host,
      port: server.port,
      username: server.username,
      passwordEnv: 'PARTNER_SFTP_PASSWORD',
      hostKeySha256: server.hostKeyFingerprint,
      retries: 0,
      timeoutSeconds: 10,
    });
    doc.setIn(['feeds', 'flown'], {
      source: 'partner',
      remoteDir: 'inbox',
      pattern: '\\.csv$',
      completeness: { kind: 'none' },
      ...feed,
    });
    return doc.toString();
  });
}
