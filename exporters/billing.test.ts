/**
 * The difference a partner is billed once its month has changed after delivery: per activity type and
 * contract, the points now minus the points its delivered documents carried.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { adjustmentLines } from './billing.js';
import { invoiceTotals, invoiceTypeOf, priceLines, type InvoiceLineInput } from './isxml.js';

function line(
  activityType: string,
  contractId: string,
  points: number,
  detailCount = 1,
  pricePerPoint = '0.0095',
): InvoiceLineInput {
  return {
    chargeCode: 'FFP',
    description: `${activityType} points ${points < 0 ? 'reversed' : 'credited'}, ${contractId}`,
    startDate: '2026-11-01',
    endDate: '2026-11-30',
    points,
    pricePerPoint,
    detailCount,
    activityType,
    contractId,
  };
}

const figures = (lines: readonly InvoiceLineInput[]) =>
  lines.map((l) => [l.activityType, l.contractId, l.points, l.detailCount, l.description]);

describe('adjustment lines', () => {
  it('bills per line the points now minus the points delivered, with the postings since', () => {
    const delivered = [line('HOTEL', 'GS-2026', 15801, 2), line('STAY', 'GS-2026', 10000, 1)];
    // A stay reversed (one posting more) and a rental credited since; HOTEL unchanged.
    const now = [
      line('HOTEL', 'GS-2026', 15801, 2),
      line('STAY', 'GS-2026', 9200, 2),
      line('RENTAL', 'GS-2026', 300, 1),
    ];
    expect(figures(adjustmentLines(now, delivered, '2026110001'))).toEqual([
      ['RENTAL', 'GS-2026', 300, 1, 'RENTAL points credited, GS-2026, adjusts invoice 2026110001'],
      ['STAY', 'GS-2026', -800, 1, 'STAY points reversed, GS-2026, adjusts invoice 2026110001'],
    ]);
  });

  it('credits back the whole of a line taken back, counting the postings that took it back', () => {
    const delivered = [line('CARD_SPEND', 'RB-2025', 1300, 1, '0.0110')];
    // The month has the credit and its reversal: a line of no points, two postings.
    const lines = adjustmentLines([line('CARD_SPEND', 'RB-2025', 0, 2, '0.0110')], delivered, '2026110004');
    expect(figures(lines)).toEqual([
      ['CARD_SPEND', 'RB-2025', -1300, 1, 'CARD_SPEND points reversed, RB-2025, adjusts invoice 2026110004'],
    ]);
    // A line the month no longer has at all is credited back at the price it was delivered at.
    expect(adjustmentLines([], delivered, '2026110004')).toMatchObject([
      { points: -1300, pricePerPoint: '0.0110' },
    ]);
    expect(lines[0]!.pricePerPoint).toBe('0.0110');
    const totals = invoiceTotals(
      priceLines({
        partnerCode: 'REDBANK',
        invoiceNumber: '2026110005',
        invoiceDate: '2026-11-30',
        chargeCategory: 'Miscellaneous',
        seller: { id: 'XX1', designator: 'XX', name: 'Redeye' },
        buyer: { id: '9RB', designator: 'RB', name: 'Red Bank' },
        currency: 'USD',
        settlementMonthPeriod: '261104',
        settlementMethod: 'I',
        lines,
      }),
    );
    expect([invoiceTypeOf(totals), totals.totalMinor]).toEqual(['CreditNote', -1430]);
  });

  it('credits back delivered points at the price they were billed at, not at the price the contract has now', () => {
    const prices = (lines: readonly InvoiceLineInput[]) =>
      lines.map((l) => [l.points, l.pricePerPoint, l.detailCount]);
    const delivered = [line('RESTAURANT', 'GRANDSTAY-2026', 800, 1, '0.0095')];
    // The contract's price changed to 0.02 and the stay reversed: the month keeps a line of no points.
    expect(
      prices(adjustmentLines([line('RESTAURANT', 'GRANDSTAY-2026', 0, 2, '0.02')], delivered, '2026110001')),
    ).toEqual([[-800, '0.0095', 1]]);
    // More credited than delivered: only the new points at today's price.
    expect(
      prices(
        adjustmentLines([line('RESTAURANT', 'GRANDSTAY-2026', 1100, 3, '0.02')], delivered, '2026110001'),
      ),
    ).toEqual([[300, '0.02', 2]]);
    // Reversed past everything delivered: the delivered points back as billed, the rest at today's price.
    const past = adjustmentLines(
      [line('RESTAURANT', 'GRANDSTAY-2026', -200, 3, '0.02')],
      delivered,
      '2026110001',
    );
    expect(prices(past)).toEqual([
      [-800, '0.0095', 2],
      [-200, '0.02', 0],
    ]);
    expect(past.map((l) => l.description)).toEqual([
      'RESTAURANT points reversed, GRANDSTAY-2026, adjusts invoice 2026110001',
      'RESTAURANT points reversed, GRANDSTAY-2026, adjusts invoice 2026110001',
    ]);
    // Over an invoice and an adjustment billed at another price, the points billed last go back first.
    const twice = [...delivered, line('RESTAURANT', 'GRANDSTAY-2026', 300, 1, '0.02')];
    expect(
      prices(adjustmentLines([line('RESTAURANT', 'GRANDSTAY-2026', 700, 3, '0.02')], twice, '2026110001')),
    ).toEqual([
      [-300, '0.02', 1],
      [-100, '0.0095', 0],
    ]);
  });

  it('is nothing when the month comes to what was delivered, over the invoice and its adjustments', () => {
    const now = [line('STAY', 'GS-2026', 9500, 3)];
    // The invoice carried 10,000, an adjustment delivered since took 500 back.
    const delivered = [line('STAY', 'GS-2026', 10000, 2), line('STAY', 'GS-2026', -500, 1)];
    expect(adjustmentLines(now, delivered, '2026110001')).toEqual([]);
  });

  it('property: what was delivered plus the adjustment is, line by line, what the month comes to now', () => {
    const key = fc.record({
      type: fc.constantFrom('STAY', 'HOTEL', 'RENTAL'),
      contract: fc.constantFrom('A', 'B'),
    });
    const lines = fc.array(fc.tuple(key, fc.integer({ min: -50_000, max: 50_000 }), fc.nat(20)), {
      maxLength: 6,
    });
    fc.assert(
      fc.property(lines, lines, (now, sent) => {
        const current = now.map(([k, points, n]) => line(k.type, k.contract, points, n));
        const delivered = sent.map(([k, points, n]) => line(k.type, k.contract, points, n));
        const adjustment = adjustmentLines(current, delivered, '2026110001');
        const sum = (ls: readonly InvoiceLineInput[]) => {
          const by = new Map<string, number>();
          for (const l of ls)
            by.set(
              `${l.activityType}/${l.contractId}`,
              (by.get(`${l.activityType}/${l.contractId}`) ?? 0) + l.points,
            );
          return new Map([...by].filter(([, p]) => p !== 0));
        };
        const after = sum([...delivered, ...adjustment]);
        expect(after).toEqual(sum(current));
        // One line per activity type and contract, none of nothing.
        expect(new Set(adjustment.map((l) => `${l.activityType}/${l.contractId}`)).size).toBe(
          adjustment.length,
        );
        expect(adjustment.every((l) => l.points !== 0 && l.detailCount >= 0)).toBe(true);
      }),
      { seed: 25, numRuns: 300 },
    );
  });
});
