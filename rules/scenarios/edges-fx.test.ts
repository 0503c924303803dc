/**
 * Worked examples where the program rules meet: each computed by hand from README and MISSION and
 * checked on both engines, with the ledger invariants, by the scenario harness.
 */
import { describe, expect, it } from 'vitest';
import { availableEngines } from '../../test/harness/db.js';
import { useScenario, type Coupon } from './scenario.js';
import { couponsFrom, IVANOV } from './edges.js';

const coupon = couponsFrom(8_000_000_000, IVANOV);
const cpn = (date: string, over: Partial<Coupon> = {}): Coupon =>
  coupon(IVANOV, date, '100.00', { currency: 'EUR', ...over });

for (const engine of availableEngines()) {
  describe(`edge cases of exchange rates (${engine})`, () => {
    const s = useScenario(engine);
    it('Easter: Monday takes Thursday’s rate (4 days), Tuesday has none (5 days)', async () => {
      const w = s();
      w.dropFx({ '2026-04-02': { USD: '1.1000' }, '2026-04-08': { USD: '1.2000' } });
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([cpn('2026-04-06')]);
      await w.night('2026-04-09');
      expect(await w.statusBalance(IVANOV.number)).toBe(11000);
      w.dropCoupons([cpn('2026-04-07', { flight: '247' })]);
      await w.night('2026-04-10');
      expect(await w.statusBalance(IVANOV.number)).toBe(11000);
      expect(await w.balance(IVANOV.number)).toBe(922);
    });
    it('a rate sent again written otherwise (1.048 for 1.0480) is the rate known, not a conflicting duplicate', async () => {
      const w = s();
      w.dropFx({ '2026-03-05': { USD: '1.0480', JPY: '161.50', GBP: '0.8600' } });
      await w.night('2026-03-06');
      const again = w.dropFx({ '2026-03-05': { USD: '1.048', JPY: '161.5', GBP: '0.8700' } });
      await w.night('2026-03-07');
      const id = await w.inboundFileId(again);
      // Only the rate that differs in value is refused, and the one kept is the first.
      expect(await w.rejects({ file_id: id })).toEqual([
        expect.objectContaining({
          reason: 'DUPLICATE',
          field: 'rate',
          message: 'GBP on 2026-03-05 is already 0.8600; 0.8700 ignored',
        }),
      ]);
    });
    it('half-even on the cent: EUR 100.00 at 1.00005 is USD 100.00', async () => {
      const w = s();
      w.dropFx({ '2026-04-02': { USD: '1.00005' } });
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([cpn('2026-04-02')]);
      await w.night('2026-04-03');
      expect(await w.statusBalance(IVANOV.number)).toBe(10000);
    });
    it('a hotel stay’s nights in euros are added up before they are converted: rounded once', async () => {
      const w = s();
      w.dropFx({ '2026-07-02': { USD: '1.0850' } });
      await w.enrol('2026-05-01', IVANOV);
      const night = { category: 'ROOM', amount: '12.29', currency: 'EUR' };
      w.dropHotel('GS', [
        {
          member: IVANOV.number,
          surname: 'IVANOV',
          givenName: 'IVAN',
          reservation: 'GS-FX',
          checkIn: '2026-06-30',
          checkOut: '2026-07-02',
          revenue: [night, { ...night, date: '2026-07-01' }],
        },
      ]);
      await w.night('2026-07-03');
      // EUR 24.58 × 1.0850 = USD 26.6693, so 26.67 and 80 points at GRANDSTAY-2026's 3 a dollar; each
      // night converted alone would be 13.33 and the stay 26.66, a cent and a point short.
      expect(await w.activity('HTL:GRANDSTAY:GS-FX')).toMatchObject({
        status: 'POSTED',
        base_spend_minor: 2667,
        points: 80,
      });
    });
  });
}
