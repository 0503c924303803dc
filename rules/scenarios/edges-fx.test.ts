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
    it('half-even on the cent: EUR 100.00 at 1.00005 is USD 100.00', async () => {
      const w = s();
      w.dropFx({ '2026-04-02': { USD: '1.00005' } });
      await w.enrol('2026-03-01', IVANOV);
      w.dropCoupons([cpn('2026-04-02')]);
      await w.night('2026-04-03');
      expect(await w.statusBalance(IVANOV.number)).toBe(10000);
    });
  });
}
