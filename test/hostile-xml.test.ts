/**
 * Hostile XML through the night (issue 8): for every XML feed (hotel stays, alliance claims and results,
 * ECB rates), documents with a DOCTYPE, external entities to a file and to a web server, a parameter
 * entity, an external DTD and the billion laughs arrive in the inbox and go through fetch and ingest.
 * Each is refused as a whole with DOCTYPE_FORBIDDEN, and nothing they point at is read: the web server
 * sees no request, a named pipe they name never gets a reader, and the secret file's text is nowhere in
 * the database. Tricks that need no DTD (an undeclared entity, XInclude, a schema location) are refused
 * or ignored just as harmlessly. The same documents without the trick are accepted, so it is the trick
 * that is refused.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchJob } from '../jobs/fetch.js';
import { ingestJob } from '../jobs/ingest.js';
import type { FeedName } from '../parsers/types.js';
import { createWorld, type TestWorld } from './harness/context.js';
import { buildSeeds } from './fuzz/seeds.js';

const XML_FEEDS: FeedName[] = ['hotel', 'alliance-claims', 'alliance-results', 'fx'];
const DATE = '2026-10-02';

let w: TestWorld;
let web: Server;
let webUrl: string;
const requests: string[] = [];
let secretPath: string;
let pipePath: string;
const SECRET = `REDEYE-SECRET-${randomBytes(8).toString('hex')}`;
const valid = new Map<FeedName, string>();
let fetched: Record<string, number>;
let ingested: Record<string, number>;
let ingestMs: number;

interface HostileCase {
  name: string;
  /** The document built from a valid one of the feed. */
  make(doc: string, root: string): string;
  reason: string | null;
}

/** The valid document with `decl` right after its XML declaration. */
function withDoctype(doc: string, decl: string): string {
  const end = doc.startsWith('<?xml') ? doc.indexOf('?>') + 2 : 0;
  return `${doc.slice(0, end)}\n${decl}${doc.slice(end)}`;
}

/** The valid document with the first element text replaced by `text` (an entity reference). */
function withText(doc: string, text: string): string {
  return doc.replace(/>([^<>\s][^<>]*)</, `>${text}<`);
}

/** The first start tag of the root element, so something can be put inside it. */
function insideRoot(doc: string, markup: string): string {
  const body = doc.indexOf('?>') + 2;
  const rootEnd = doc.indexOf('>', doc.indexOf('<', body)) + 1;
  return `${doc.slice(0, rootEnd)}${markup}${doc.slice(rootEnd)}`;
}

function rootName(doc: string): string {
  const m = /<([A-Za-z_][\w.:-]*)[\s>]/.exec(doc.slice(doc.indexOf('?>') + 2));
  return m ? m[1]! : 'root';
}

const LAUGHS = Array.from(
  { length: 9 },
  (_, i) => `  <!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`,
).join('\n');

const CASES: HostileCase[] = [
  { name: 'doctype', make: (d, r) => withDoctype(d, `<!DOCTYPE ${r}>`), reason: 'DOCTYPE_FORBIDDEN' },
  {
    name: 'xxe-file',
    make: (d, r) =>
      withText(
        withDoctype(d, `<!DOCTYPE ${r} [\n  <!ENTITY xxe SYSTEM "file://${secretPath}">\n]>`),
        '&xxe;',
      ),
    reason: 'DOCTYPE_FORBIDDEN',
  },
  {
    name: 'xxe-pipe',
    make: (d, r) =>
      withText(withDoctype(d, `<!DOCTYPE ${r} [\n  <!ENTITY xxe SYSTEM "file://${pipePath}">\n]>`), '&xxe;'),
    reason: 'DOCTYPE_FORBIDDEN',
  },
  {
    name: 'xxe-http',
    make: (d, r) =>
      withText(withDoctype(d, `<!DOCTYPE ${r} [\n  <!ENTITY xxe SYSTEM "${webUrl}/xxe">\n]>`), '&xxe;'),
    reason: 'DOCTYPE_FORBIDDEN',
  },
  {
    name: 'parameter-entity',
    make: (d, r) =>
      withDoctype(d, `<!DOCTYPE ${r} [\n  <!ENTITY % remote SYSTEM "${webUrl}/evil.dtd">\n  %remote;\n]>`),
    reason: 'DOCTYPE_FORBIDDEN',
  },
  {
    name: 'external-dtd',
    make: (d, r) => withDoctype(d, `<!DOCTYPE ${r} SYSTEM "${webUrl}/external.dtd">`),
    reason: 'DOCTYPE_FORBIDDEN',
  },
  {
    name: 'billion-laughs',
    make: (d, r) =>
      withText(withDoctype(d, `<!DOCTYPE ${r} [\n  <!ENTITY lol "lol">\n${LAUGHS}\n]>`), '&lol9;'),
    reason: 'DOCTYPE_FORBIDDEN',
  },
  {
    name: 'doctype-lowercase-after-comment',
    make: (d, r) =>
      withDoctype(d, `<!-- harmless -->\n<!doctype ${r} [<!ENTITY xxe SYSTEM "file://${secretPath}">]>`),
    reason: 'DOCTYPE_FORBIDDEN',
  },
  // No DTD at all: an entity nobody declared, XInclude, a schema to fetch.
  { name: 'undeclared-entity', make: (d) => withText(d, '&xxe;'), reason: 'NOT_WELL_FORMED' },
  {
    name: 'xinclude',
    make: (d) =>
      insideRoot(
        d,
        `<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file://${secretPath}" parse="text"/>` +
          `<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="${webUrl}/xinclude"/>`,
      ),
    reason: null,
  },
  {
    name: 'schema-location',
    make: (d) =>
      d.replace(/(<[A-Za-z_][\w.:-]*)([\s>])/, (m, tag: string, after: string) =>
        d.indexOf(m) > d.indexOf('?>')
          ? `${tag} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="urn:x ${webUrl}/schema.xsd"${after}`
          : m,
      ),
    reason: null,
  },
];

function name(feed: FeedName, c: string): string {
  return `${c}_${feed}.xml`;
}

function inbox(feed: FeedName): string {
  const cfg = w.config.feeds[feed]!;
  const t = w.config.transports[cfg.source]!;
  if (t.type !== 'local') throw new Error('local inbox expected');
  return join(t.root, cfg.remoteDir);
}

/** Whether some process holds the named pipe open for reading right now. */
function pipeHasReader(path: string): boolean {
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENXIO') return false;
    throw error;
  }
}

beforeAll(async () => {
  w = await createWorld('sqlite');
  web = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.end('<!ENTITY leaked "yes">');
  });
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
  webUrl = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
  secretPath = join(w.dir, 'secret.txt');
  writeFileSync(secretPath, `${SECRET}\n`);
  pipePath = join(w.dir, 'secret.pipe');
  execFileSync('mkfifo', [pipePath]);

  const seeds = await buildSeeds(join(w.dir, 'demo'), 11);
  for (const feed of XML_FEEDS) {
    // A demo file of the feed (or our own results file): one the ingest accepts as it is.
    const seed = seeds.byFeed[feed].find(
      (s) => !s.name.startsWith('hotel-') && !s.name.startsWith('fx-') && !s.name.startsWith('alliance-'),
    )!;
    const doc = seed.bytes.toString('utf8');
    valid.set(feed, doc);
    writeFileSync(join(inbox(feed), name(feed, 'control')), doc);
    // A partner's claims files each carry a sequence of their own: one it already sent with other content
    // would be refused DUPLICATE_FILE for that, not judged for what the case puts in it.
    const sequenced = (text: string, k: number) =>
      feed === 'alliance-claims'
        ? text.replace(/<FileSequence>\d+<\/FileSequence>/, `<FileSequence>${9000 + k}</FileSequence>`)
        : text;
    CASES.forEach((c, k) =>
      writeFileSync(join(inbox(feed), name(feed, c.name)), sequenced(c.make(doc, rootName(doc)), k)),
    );
  }
  const ctx = w.ctx(DATE);
  fetched = (await fetchJob(ctx)).counts;
  const t0 = performance.now();
  ingested = (await ingestJob(ctx)).counts;
  ingestMs = performance.now() - t0;
}, 120_000);

afterAll(async () => {
  await new Promise<void>((resolve) => web.close(() => resolve()));
  await w.cleanup();
});

async function row(feed: FeedName, c: string): Promise<Record<string, unknown>> {
  const r = await w.t.db
    .knex('files')
    .where({ direction: 'in', feed, name: name(feed, c) })
    .first();
  expect(r, `${feed} ${c} registered`).toBeDefined();
  return r as Record<string, unknown>;
}

describe('hostile XML through fetch and ingest', () => {
  it('takes every document in and decides each one, quickly', () => {
    expect(fetched.new).toBe(XML_FEEDS.length * (CASES.length + 1));
    expect(ingested.files).toBe(XML_FEEDS.length * (CASES.length + 1));
    // Twelve documents per feed, the billion laughs among them: nothing was expanded.
    expect(ingestMs).toBeLessThan(30_000);
  });

  it('accepts the same documents without the trick', async () => {
    for (const feed of XML_FEEDS) {
      const r = await row(feed, 'control');
      expect([r.verdict, r.reason], feed).toEqual(['accepted', null]);
    }
  });

  for (const c of CASES.filter((x) => x.reason === 'DOCTYPE_FORBIDDEN')) {
    it(`refuses ${c.name} in every XML feed before reading anything it names`, async () => {
      for (const feed of XML_FEEDS) {
        const r = await row(feed, c.name);
        expect([r.verdict, r.reason], `${feed} ${c.name}`).toEqual(['rejected', 'DOCTYPE_FORBIDDEN']);
        expect(String(r.message)).toMatch(/<!DOCTYPE found: DTDs and entity declarations are refused/i);
        const counts = JSON.parse(String(r.counts)) as Record<string, number>;
        expect(counts).toMatchObject({ records: 0, rejects: 0 });
        expect(
          await w.t.db.knex('activities').where({ source_file_id: r.id }).count({ n: '*' }).first(),
        ).toEqual({
          n: 0,
        });
        expect(await w.t.db.knex('rejects').where({ file_id: r.id }).count({ n: '*' }).first()).toEqual({
          n: 0,
        });
      }
    });
  }

  it('refuses an entity nobody declared', async () => {
    for (const feed of XML_FEEDS) {
      const r = await row(feed, 'undeclared-entity');
      expect([r.verdict, r.reason], feed).toEqual(['rejected', 'NOT_WELL_FORMED']);
      expect(String(r.message)).toContain('undeclared entity &xxe;');
    }
  });

  it('does not follow XInclude or a schema location: the documents are read as if they were not there', async () => {
    for (const feed of XML_FEEDS) {
      for (const c of ['xinclude', 'schema-location']) {
        const r = await row(feed, c);
        // Read as if the element or attribute were not there: accepted, with nothing fetched.
        expect([r.verdict, r.reason], `${feed} ${c}`).toEqual(['accepted', null]);
      }
    }
  });

  it('fetched nothing from the web, opened no named pipe, and the secret file is nowhere in the database', () => {
    expect(requests).toEqual([]);
    expect(pipeHasReader(pipePath)).toBe(false);
    const dbFile = w.t.url.replace(/^sqlite:/, '');
    for (const path of [dbFile, `${dbFile}-wal`]) {
      if (existsSync(path)) expect(readFileSync(path).includes(SECRET), path).toBe(false);
    }
  });
});
