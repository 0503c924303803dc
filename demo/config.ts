/**
 * The demo folder's configuration: examples/redeye.config.yaml, the demo program, with its comments,
 * pointed at the demo folder — the database and working folders under `var/`, the inbox transport at
 * `var/inbox` (the night runner copies each night's files there), deliveries to `var/delivered`.
 *
 * One rule is adapted as well: OpenTravel stays carry `RevenueCategoryCode` from OpenTravel's RVC code
 * list (9 room, 2 food; the XSD's OTA_CodeType allows at most three characters, so `ROOM` cannot appear
 * there), while the example's GrandStay contracts name the categories ROOM and FOOD. The demo's contracts
 * list both spellings, so the chain's CSV and its OpenTravel stays earn alike.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isMap, isSeq, parseDocument, type Document } from 'yaml';
import { configSchema, type Config } from '../config/schema.js';

/** examples/redeye.config.yaml, from the sources or from the build output (dist/demo). */
export function exampleConfigPath(): string {
  for (const rel of ['../examples/redeye.config.yaml', '../../examples/redeye.config.yaml']) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error('examples/redeye.config.yaml not found beside the demo generator');
}

/** The first line of a demo configuration, after its `#`: how a folder is known as an earlier demo's. */
export const DEMO_CONFIG_HEADER = ' Redeye demo: the program of examples/redeye.config.yaml';

const OTA_CATEGORIES: Record<string, string> = { ROOM: '9', FOOD: '2' };

/** The demo configuration text for a demo folder (paths relative to the file, which lives in that folder). */
export function demoConfigText(options: { month: string; members: number; seed: number }): string {
  const doc: Document = parseDocument(readFileSync(exampleConfigPath(), 'utf8'));
  doc.setIn(['database', 'url'], 'sqlite:./var/redeye.sqlite');
  doc.setIn(['paths', 'var'], './var');
  doc.setIn(['paths', 'landing'], './var/landing');
  doc.setIn(['paths', 'outbox'], './var/outbox');
  doc.setIn(['paths', 'reports'], './var/reports');
  doc.setIn(['transports', 'inbox', 'root'], './var/inbox');
  doc.setIn(['transports', 'outbox', 'root'], './var/delivered');
  const partners = doc.get('partners', true);
  if (isSeq(partners)) {
    for (const partner of partners.items) {
      if (!isMap(partner) || partner.get('kind') !== 'hotel') continue;
      const contracts = partner.get('contracts', true);
      if (!isSeq(contracts)) continue;
      for (const contract of contracts.items) {
        if (!isMap(contract)) continue;
        const activities = contract.get('activities', true);
        if (!isMap(activities)) continue;
        for (const pair of activities.items) {
          const rule = pair.value;
          if (!isMap(rule)) continue;
          const categories = rule.get('revenueCategories', true);
          if (!isSeq(categories)) continue;
          const names = categories.items.map((i) => String((i as { value?: unknown }).value ?? i));
          const codes = names.map((n) => OTA_CATEGORIES[n]).filter((c): c is string => c !== undefined);
          const both = [...names, ...codes.filter((c) => !names.includes(c))];
          const seq = doc.createNode(both);
          seq.flow = true;
          rule.set('revenueCategories', seq);
        }
      }
    }
  }
  doc.commentBefore =
    `${DEMO_CONFIG_HEADER}, generated for ${options.month}` +
    ` (${options.members} members, seed ${options.seed}) by demo/generate.ts.\n` +
    ' nights/<date>/ holds the files each night receives; a night runner copies them into var/inbox/\n' +
    ' (transports.inbox) before running that business date. Everything Redeye writes goes under var/.\n' +
    ' GrandStay contracts list OpenTravel revenue category codes (9 room, 2 food) beside ROOM and FOOD.\n' +
    `${doc.commentBefore ? `\n${doc.commentBefore}` : ''}`;
  return doc.toString({ lineWidth: 0 });
}

/** The parsed demo configuration (for the generator's own use: class rates, contracts). */
export function exampleConfig(): Config {
  const doc = parseDocument(readFileSync(exampleConfigPath(), 'utf8'));
  return configSchema.parse(doc.toJS());
}
