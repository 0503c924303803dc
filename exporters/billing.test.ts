/**
 * The difference a partner is billed once its month has changed after delivery: per activity type and
 * contract, the points now minus the points its delivered documents carried.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { adjustmentLines } from './billing.js';
import { invoiceTotals, invoiceTypeOf, lineChargeMinor, priceLines, type InvoiceLineInput } from './isxml.js';

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
    expect(figures(adjustmentLines(now, delivered, '2026110001', 'USD'))).toEqual([
      ['RENTAL', 'GS-2026', 300, 1, 'RENTAL points credited, GS-2026, adjusts invoice 2026110001'],
      ['STAY', 'GS-2026', -800, 1, 'STAY points reversed, GS-2026, adjusts invoice 2026110001'],
    ]);
  });

  it('credits back the whole of a line taken back, counting the postings that took it back', () => {
    const delivered = [line('CARD_SPEND', 'RB-2025', 1300, 1, '0.0110')];
    // The month has the credit and its reversal: a line of no points, two postings.
    const lines = adjustmentLines(
      [line('CARD_SPEND', 'RB-2025', 0, 2, '0.0110')],
      delivered,
      '2026110004',
      'USD',
    );
    expect(figures(lines)).toEqual([
      ['CARD_SPEND', 'RB-2025', -1300, 1, 'CARD_SPEND points reversed, RB-2025, adjusts invoice 2026110004'],
    ]);
    // A line the month no longer has at all is credited back at the price it was delivered at.
    expect(adjustmentLines([], delivered, '2026110004', 'USD')).toMatchObject([
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
      prices(
        adjustmentLines([line('RESTAURANT', 'GRANDSTAY-2026', 0, 2, '0.02')], delivered, '2026110001', 'USD'),
      ),
    ).toEqual([[-800, '0.0095', 1]]);
    // More credited than delivered: only the new points at today's price.
    expect(
      prices(
        adjustmentLines(
          [line('RESTAURANT', 'GRANDSTAY-2026', 1100, 3, '0.02')],
          delivered,
          '2026110001',
          'USD',
        ),
      ),
    ).toEqual([[300, '0.02', 2]]);
    // Reversed past everything delivered: the delivered points back as billed, the rest at today's price.
    const past = adjustmentLines(
      [line('RESTAURANT', 'GRANDSTAY-2026', -200, 3, '0.02')],
      delivered,
      '2026110001',
      'USD',
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
      prices(
        adjustmentLines([line('RESTAURANT', 'GRANDSTAY-2026', 700, 3, '0.02')], twice, '2026110001', 'USD'),
      ),
    ).toEqual([
      [-300, '0.02', 1],
      [-100, '0.0095', 0],
    ]);
  });

  it('is nothing when the month comes to what was delivered, over the invoice and its adjustments', () => {
    const now = [line('STAY', 'GS-2026', 9500, 3)];
    // The invoice carried 10,000, an adjustment delivered since took 500 back.
    const delivered = [line('STAY', 'GS-2026', 10000, 2), line('STAY', 'GS-2026', -500, 1)];
    expect(adjustmentLines(now, delivered, '2026110001', 'USD')).toEqual([]);
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
        const adjustment = adjustmentLines(current, delivered, '2026110001', 'USD');
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
        expect(adjustment.every((l) => l.points !== 0 && l.detailCount >= 0)).toBe(true);
      }),
      { seed: 25, numRuns: 300 },
    );
  });

  /**
   * A partner month's documents one after the other, as the export bills them: the invoice of its first
   * figure, then for each later figure (at the contract's price then) the adjustment of the difference,
   * delivered before the next. Each document's lines and the amount it bills, in minor units.
   */
  const history = (
    figures: ReadonlyArray<readonly [points: number, price: string]>,
    currency = 'USD',
  ): Array<{ lines: InvoiceLineInput[]; minor: number }> => {
    const delivered: InvoiceLineInput[] = [];
    return figures.map(([points, price], i) => {
      const now = [line('CARD_SPEND', 'C1', points, i + 1, price)];
      const lines =
        i === 0 ? now.filter((l) => l.points !== 0) : adjustmentLines(now, delivered, '2026110001', currency);
      delivered.push(...lines);
      return {
        lines,
        minor: lines.reduce((s, l) => s + lineChargeMinor(l.points, l.pricePerPoint, currency), 0),
      };
    });
  };
  const billedAt = (lines: readonly InvoiceLineInput[]) => lines.map((l) => [l.points, l.pricePerPoint]);

  it('takes back only what earlier adjustments have not taken back already, and no more than was billed', () => {
    // 1,000 invoiced at 0.01; the contract repriced to 0.02 and 500 credited late; then reversed step by step.
    const documents = history([
      [1000, '0.01'],
      [1500, '0.02'],
      [1000, '0.02'],
      [700, '0.02'],
      [0, '0.02'],
    ]);
    expect(documents.map((d) => billedAt(d.lines))).toEqual([
      [[1000, '0.01']],
      [[500, '0.02']],
      [[-500, '0.02']],
      // The 500 at 0.02 are back already: the 300 come from the invoice, at its price.
      [[-300, '0.01']],
      [[-700, '0.01']],
    ]);
    expect(documents.map((d) => d.minor)).toEqual([1000, 1000, -1000, -300, -700]);
    expect(documents.reduce((s, d) => s + d.minor, 0)).toBe(0);
  });

  it('bills points credited again after a take-back at the price they were first billed at', () => {
    // 1,000 invoiced at 0.01, 300 reversed, the contract repriced to 0.02, the reversal undone.
    const documents = history([
      [1000, '0.01'],
      [700, '0.01'],
      [1000, '0.02'],
      // And 200 more than ever billed: only those at today's price.
      [1200, '0.02'],
    ]);
    expect(documents.map((d) => billedAt(d.lines))).toEqual([
      [[1000, '0.01']],
      [[-300, '0.01']],
      [[300, '0.01']],
      [[200, '0.02']],
    ]);
    expect(documents.slice(0, 3).reduce((s, d) => s + d.minor, 0)).toBe(1000);
    // Reversed past everything billed, and back: the reversals beyond are a lot of their own, below zero.
    const below = history([
      [1000, '0.01'],
      [-200, '0.02'],
      [1000, '0.03'],
    ]);
    expect(below.map((d) => billedAt(d.lines))).toEqual([
      [[1000, '0.01']],
      [
        [-1000, '0.01'],
        [-200, '0.02'],
      ],
      [
        [200, '0.02'],
        [1000, '0.01'],
      ],
    ]);
  });

  it('credits each delivered line taken back whole its billed amount, never re-rounding lines merged at one price', () => {
    // 1,234 × 0.0095 = 11.723, billed 11.72 in the invoice and again in an adjustment; 2,468 × 0.0095 = 23.45.
    const documents = history([
      [1234, '0.0095'],
      [2468, '0.0095'],
      [0, '0.0095'],
    ]);
    expect(documents.map((d) => d.minor)).toEqual([1172, 1172, -2344]);
    expect(billedAt(documents[2]!.lines)).toEqual([
      [-1234, '0.0095'],
      [-1234, '0.0095'],
    ]);
    // Parts that round alike are still one line: 1,000 × 0.01 and 500 × 0.01 are 15.00 either way.
    expect(
      billedAt(
        history([
          [1000, '0.01'],
          [1500, '0.01'],
          [0, '0.01'],
        ])[2]!.lines,
      ),
    ).toEqual([[-1500, '0.01']]);
    // A lot taken back in part where the part's own rounding would not add up: 3 × 0.005 = 0.015 billed
    // 0.02, 2 × 0.005 billed 0.01, so 1 point back is 0.01, though 1 × 0.005 alone rounds to 0.00. The lot
    // is credited back whole and what remains billed again, each line Quantity × UnitPrice as it reads.
    const partial = history([
      [3, '0.005'],
      [2, '0.005'],
      [0, '0.005'],
    ]);
    expect(partial.map((d) => billedAt(d.lines))).toEqual([
      [[3, '0.005']],
      [
        [-3, '0.005'],
        [2, '0.005'],
      ],
      [[-2, '0.005']],
    ]);
    expect(partial.map((d) => d.minor)).toEqual([2, -1, -1]);
  });

  it('property: the documents of a month bill its points at the prices they were first billed at, 0.00 for none', () => {
    const prices = ['0.01', '0.0095', '0.005', '0.015', '0.125', '0.0333'];
    const steps = fc.array(fc.tuple(fc.integer({ min: -40, max: 40 }), fc.constantFrom(...prices)), {
      minLength: 1,
      maxLength: 10,
    });
    fc.assert(
      fc.property(steps, fc.constantFrom('USD', 'JPY', 'KWD'), (figures, currency) => {
        const documents = history(figures, currency);
        // Point by point, independently: each point from zero to the figure is priced the first time the
        // month reaches it, in a lot with the others the same document first reached.
        const firstBilled = new Map<number, { lot: number; price: string }>();
        figures.forEach(([points, price], lot) => {
          for (let p = Math.min(points, 0); p <= Math.max(points, 0); p++)
            if (p !== 0 && !firstBilled.has(p)) firstBilled.set(p, { lot, price });
        });
        documents.forEach((_, i) => {
          const [points] = figures[i]!;
          const lots = new Map<number, { points: number; price: string }>();
          for (let p = Math.min(points, 0); p <= Math.max(points, 0); p++) {
            if (p === 0) continue;
            const { lot, price } = firstBilled.get(p)!;
            const l = lots.get(lot) ?? { points: 0, price };
            l.points += Math.sign(p);
            lots.set(lot, l);
          }
          const expected = [...lots.values()].reduce(
            (s, l) => s + lineChargeMinor(l.points, l.price, currency),
            0,
          );
          const billed = documents.slice(0, i + 1).reduce((s, d) => s + d.minor, 0);
          expect(billed, `after document ${i + 1}`).toBe(expected);
          if (points === 0) expect(billed).toBe(0);
        });
      }),
      { seed: 32, numRuns: 500 },
    );
  });
});
