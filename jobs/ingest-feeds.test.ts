import { describe, expect, it } from 'vitest';
import { blankActivity } from '../rules/activity.js';
import { mergedFields } from './ingest-feeds.js';

const flight = { activityKey: 'FLT:LH456:2026-03-10:FRA-SVO:LH:992000000001', type: 'FLIGHT' as const };
const dates = { activityDate: '2026-03-10', businessDate: '2026-03-11' };

describe('a record of the other feed completing a flight', () => {
  it('has another airline’s flight, as the claims export judged it, judged again', () => {
    const listed = blankActivity({
      ...flight,
      ...dates,
      partnerCode: 'LH',
      seenFtl: true,
      status: 'NOT_CREDITED',
      reason: 'NOT_OWN_FLIGHT',
    });
    const coupon = blankActivity({
      ...flight,
      ...dates,
      seenCoupon: true,
      couponStatus: 'F',
      partnerCode: 'LH',
    });
    expect(mergedFields(listed, coupon)).toMatchObject({ seenCoupon: true, reason: null });
  });

  it('keeps a reason the other feed cannot change: no agreement with the card’s program', () => {
    const listed = blankActivity({
      ...flight,
      ...dates,
      seenFtl: true,
      status: 'NOT_CREDITED',
      reason: 'NO_AGREEMENT',
    });
    const coupon = blankActivity({ ...flight, ...dates, seenCoupon: true, couponStatus: 'F' });
    expect(mergedFields(listed, coupon)).not.toHaveProperty('reason');
  });
});
