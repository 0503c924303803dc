/**
 * Every feed's parser by name. Jobs and the simulator pick a parser here, so adding a feed means adding
 * it to FeedName (types.ts) and to this map, and the compiler points at anything missing.
 */
import { UsageError } from '../lib/errors.js';
import { allianceClaimsParser, allianceResultsParser } from './alliance.js';
import { flownParser } from './flown.js';
import { ftlParser } from './ftl/index.js';
import { fxParser } from './fx.js';
import { hotelParser } from './hotel.js';
import { membersParser } from './members.js';
import { partnerParser } from './partner.js';
import { redemptionsParser } from './redemptions.js';
import { retroClaimsParser } from './retro-claims.js';
import { FEED_NAMES, type FeedName, type FeedParser } from './types.js';

export const parsers: Readonly<Record<FeedName, FeedParser<unknown>>> = {
  ftl: ftlParser,
  flown: flownParser,
  partner: partnerParser,
  hotel: hotelParser,
  'alliance-claims': allianceClaimsParser,
  'alliance-results': allianceResultsParser,
  redemptions: redemptionsParser,
  members: membersParser,
  fx: fxParser,
  'retro-claims': retroClaimsParser,
};

/** The parser of a feed; an unknown name (from a command line or configuration) is a usage error. */
export function getParser(feed: FeedName): FeedParser<unknown> {
  const parser = Object.hasOwn(parsers, feed) ? parsers[feed] : undefined;
  if (parser === undefined) {
    throw new UsageError(`no parser for feed ${JSON.stringify(feed)} (known: ${FEED_NAMES.join(', ')})`, {
      feed,
    });
  }
  return parser;
}
