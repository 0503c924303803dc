import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ActivityStatus } from './activity.js';
import {
  cancellationOf,
  cancelledBeforeCredit,
  claimReceipt,
  claimReceivedBefore,
  flightReadBefore,
  recordReadBefore,
  recordReceipt,
  receiptOf,
  type ClaimStatus,
} from './sent-again.js';

const CLAIM_STATUSES: ClaimStatus[] = ['PENDING', 'CREDITED', 'REJECTED'];
const ACTIVITY_STATUSES: ActivityStatus[] = [
  'POSTED',
  'PARTIAL',
  'REJECTED',
  'PENDING',
  'REVERSED',
  'NOT_CREDITED',
];

describe('a retro-claim under a claim id received before', () => {
  it('is settled afresh when the claim received before was rejected, the earlier copy set aside', () => {
    expect(claimReceipt({ status: 'REJECTED' }, false)).toBe('sentAgain');
  });

  it('is a DUPLICATE when the claim received before was credited or still waits', () => {
    expect(claimReceipt({ status: 'CREDITED' }, false)).toBe('duplicate');
    expect(claimReceipt({ status: 'PENDING' }, false)).toBe('duplicate');
  });

  it('is a DUPLICATE when the claim came earlier in the same run, even after a rejected one', () => {
    expect(claimReceipt(undefined, true)).toBe('duplicate');
    expect(claimReceipt({ status: 'REJECTED' }, true)).toBe('duplicate');
  });

  it('is new when its id was never received', () => {
    expect(claimReceipt(undefined, false)).toBe('new');
  });

  it('names the file the first copy came in and what became of it', () => {
    expect(
      claimReceivedBefore(
        'C-9',
        { status: 'CREDITED' },
        { file: { name: 'RETRO_20260601.csv', registered: true, night: '2026-06-02' } },
      ),
    ).toEqual({
      reason: 'DUPLICATE',
      field: 'claim_id',
      message: 'claim C-9 was already received in RETRO_20260601.csv (night of 2026-06-02) and credited',
    });
    expect(claimReceivedBefore('C-9', { status: 'PENDING' }, { sameFile: true, line: 4 }).message).toBe(
      'claim C-9 was already received at line 4 of this file and waits to be settled',
    );
    // A file of the same simulated run is not registered yet: it has a name, no night.
    expect(
      claimReceivedBefore('C-9', { status: 'PENDING' }, { file: { name: 'RETRO_A.csv', registered: false } })
        .message,
    ).toBe('claim C-9 was already received in RETRO_A.csv (earlier in this run) and waits to be settled');
    // A claim kept before files were recorded has no file to name.
    expect(claimReceivedBefore('C-9', { status: 'CREDITED' }, {}).message).toBe(
      'claim C-9 was already received and credited',
    );
  });
});

describe('a record of another feed under a key read before', () => {
  it('is decided afresh only when its earlier copy was rejected and is not queued to be decided again', () => {
    expect(recordReceipt({ status: 'REJECTED', needsAccrual: false }, false)).toBe('sentAgain');
    expect(recordReceipt({ status: 'REJECTED', needsAccrual: true }, false)).toBe('duplicate');
    expect(recordReceipt({ status: 'POSTED', needsAccrual: false }, false)).toBe('duplicate');
    expect(recordReceipt({ status: 'REVERSED', needsAccrual: false }, false)).toBe('duplicate');
    expect(recordReceipt({ status: 'PENDING', needsAccrual: true }, false)).toBe('duplicate');
    expect(recordReceipt(undefined, false)).toBe('new');
    expect(recordReceipt(undefined, true)).toBe('duplicate');
  });
});

describe('a record refused as read before', () => {
  const file = { name: 'REDBANK_20260301_7.csv', registered: true as const, night: '2026-03-02' };

  it('names the file that brought it first and what became of it', () => {
    expect(recordReadBefore('RB-9', { status: 'POSTED', needsAccrual: false }, { file })).toEqual({
      reason: 'DUPLICATE',
      field: 'id',
      message: 'RB-9 was already received in REDBANK_20260301_7.csv (night of 2026-03-02) and posted',
    });
    expect(recordReadBefore('RB-9-R', { status: 'REVERSED', needsAccrual: false }, { file }).message).toMatch(
      /and reversed$/,
    );
    expect(recordReadBefore('RB-9', { status: 'PARTIAL', needsAccrual: false }, { file }).message).toMatch(
      /and partly posted$/,
    );
  });

  it('says a copy queued for accrue, or earlier in the same file, waits to be decided', () => {
    // A rejection queued to be decided again has not settled: it is not "rejected".
    expect(recordReadBefore('RB-9', { status: 'REJECTED', needsAccrual: true }, { file }).message).toMatch(
      /and waits to be decided$/,
    );
    expect(
      recordReadBefore('RB-9', { status: 'PENDING', needsAccrual: true }, { sameFile: true, line: 2 })
        .message,
    ).toBe('RB-9 was already received at line 2 of this file and waits to be decided');
  });
});

describe('a flight record refused as read before', () => {
  const flight = {
    carrier: 'LH',
    flightNumber: '400',
    activityDate: '2026-11-01',
    origin: 'FRA',
    destination: 'JFK',
    ticketNumber: '0741234567890',
    couponNumber: 1,
    couponStatus: 'F',
  };
  const file = { name: 'FLOWN_20261101.csv', registered: true as const, night: '2026-11-02' };

  it('names the coupon, or the passenger by their flight (never the activity key), and where and what', () => {
    expect(
      flightReadBefore({ ...flight, seenCoupon: true }, { status: 'POSTED', needsAccrual: false }, { file }),
    ).toBe(
      'coupon 0741234567890/1 (F) was already read in FLOWN_20261101.csv (night of 2026-11-02) and posted',
    );
    expect(
      flightReadBefore(
        { ...flight, seenCoupon: false },
        { status: 'PENDING', needsAccrual: true },
        { sameFile: true, line: 7 },
      ),
    ).toBe(
      'the passenger (LH 400 2026-11-01 FRA-JFK) was already read at line 7 of this file and waits to be decided',
    );
  });
});

describe('the decision on a copy sent again', () => {
  it('never decides a second copy of one run, decides afresh only what credited nothing, and reads the unknown as new', () => {
    const claim = fc.option(
      fc.constantFrom(...CLAIM_STATUSES).map((status) => ({ status })),
      {
        nil: undefined,
      },
    );
    const activity = fc.option(
      fc.record({ status: fc.constantFrom(...ACTIVITY_STATUSES), needsAccrual: fc.boolean() }),
      { nil: undefined },
    );
    fc.assert(
      fc.property(claim, activity, fc.boolean(), fc.boolean(), (c, a, seenInRun, afresh) => {
        for (const [earlier, receipt] of [
          [c, claimReceipt(c, seenInRun)],
          [a, recordReceipt(a, seenInRun)],
          [c, receiptOf(c, seenInRun, () => afresh)],
        ] as const) {
          // Crediting twice is the one thing that must never happen: a copy seen tonight is refused.
          if (seenInRun) expect(receipt).toBe('duplicate');
          else if (earlier === undefined) expect(receipt).toBe('new');
          else expect(receipt).not.toBe('new');
        }
        // Only a copy that credited nothing and waits for nothing is set aside for the new one.
        if (claimReceipt(c, seenInRun) === 'sentAgain') expect(c?.status).toBe('REJECTED');
        if (recordReceipt(a, seenInRun) === 'sentAgain')
          expect(a).toEqual({ status: 'REJECTED', needsAccrual: false });
        if (!seenInRun && c !== undefined)
          expect(receiptOf(c, false, () => afresh)).toBe(afresh ? 'sentAgain' : 'duplicate');
      }),
    );
  });
});

describe('a hotel’s cancellation of a stay read before', () => {
  it('is not applied only to a stay whose credit is posted: one still waiting is settled, never credited', () => {
    for (const status of ACTIVITY_STATUSES)
      for (const needsAccrual of [false, true]) {
        const effect = cancellationOf({ status, needsAccrual });
        if (status === 'POSTED' || status === 'PARTIAL') expect(effect).toBe('notApplied');
        else if (status === 'REVERSED' || (status === 'REJECTED' && !needsAccrual))
          expect(effect).toBe('none');
        else expect([status, needsAccrual, effect]).toEqual([status, needsAccrual, 'settle']);
      }
    expect(cancellationOf(undefined)).toBe('none');
  });

  it('settles the stay rejected, decided and earning nothing, naming where the hotel cancelled it', () => {
    expect(
      cancelledBeforeCredit('R-9', 'No-show', { file: 'GS_20260613.xml', night: '2026-06-13' }),
    ).toMatchObject({
      status: 'REJECTED',
      reason: 'NO_CONTRACT',
      reasonField: 'HotelReservation/@ResStatus',
      reasonMessage: expect.stringMatching(
        /^the hotel sent reservation R-9 as No-show in GS_20260613\.xml \(night of 2026-06-13\): /,
      ),
      needsAccrual: false,
      points: 0,
    });
    expect(cancelledBeforeCredit('R-9', 'Cancelled', { sameFile: true, line: 30 }).reasonMessage).toMatch(
      /^the hotel sent reservation R-9 as Cancelled at line 30 of this file: /,
    );
  });
});
