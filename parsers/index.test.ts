import { describe, expect, it } from 'vitest';
import { UsageError } from '../lib/errors.js';
import { getParser, parsers } from './index.js';
import { FEED_NAMES, type FeedName } from './types.js';

describe('parser registry', () => {
  it('has a parser for every feed, each answering to its own name', () => {
    expect(Object.keys(parsers).sort()).toEqual([...FEED_NAMES].sort());
    for (const feed of FEED_NAMES) expect(getParser(feed).feed).toBe(feed);
  });

  it('refuses a feed it does not know as a usage error', () => {
    expect(() => getParser('telex' as FeedName)).toThrow(UsageError);
    expect(() => getParser('toString' as FeedName)).toThrow(/no parser for feed "toString"/);
  });
});
