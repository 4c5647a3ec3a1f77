// Stripe amounts are in the currency's minor unit; the postback carries major units.
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { postbackControl } from '../postback/control';
import { paymentSession, postStripe, stripeEvent, webhookEnv } from './helpers';

const upstream = postbackControl(inject('webhookPostbackServers').currencies);

// [currency as Stripe sends it, amount_total in minor units, tax, shipping, the postback's amount and currency]
const table = [
  ['jpy', 5000, 0, 0, 5000, 'JPY'], // zero-decimal: ¥5000 is 5000
  ['jpy', 12800, 1164, 0, 11636, 'JPY'], // ¥12800 incl. ¥1164 tax
  ['krw', 45000, 0, 3000, 42000, 'KRW'], // zero-decimal, minus ₩3000 shipping
  ['kwd', 12345, 0, 0, 12.345, 'KWD'], // three-decimal: 12.345 KWD
  ['kwd', 1000, 0, 0, 1, 'KWD'],
  ['bhd', 1005, 0, 0, 1.005, 'BHD'], // three-decimal
  ['bhd', 25750, 1250, 500, 24, 'BHD'],
  ['eur', 1999, 0, 0, 19.99, 'EUR'],
  ['eur', 12100, 2100, 0, 100, 'EUR'], // €121 incl. 21% VAT → €100
  ['usd', 5350, 850, 500, 40, 'USD'],
  ['usd', 1, 0, 0, 0.01, 'USD'],
  ['isk', 50000, 0, 0, 500, 'ISK'], // Stripe's special case: ISK is two-decimal in the API
  ['ugx', 500000, 0, 0, 5000, 'UGX'], // likewise UGX
] as const;

describe('POST /webhooks/stripe: currencies × minor amounts → postback amount', () => {
  beforeAll(() => upstream.reset());

  it.each(table)('%s %d (tax %d, shipping %d) → %d %s', async (currency, total, tax, shipping, amount, code) => {
    const session = paymentSession({
      currency,
      amount_subtotal: total,
      amount_total: total,
      total_details: { amount_discount: 0, amount_shipping: shipping, amount_tax: tax },
    });
    const { json } = await postStripe(webhookEnv(upstream), stripeEvent('checkout.session.completed', session));
    expect(json).toEqual({ ok: true, status: 'sent' });
    const [conversion] = (await upstream.accepted('conversion')).filter((r) => r.fields.external_id === session.id);
    expect(conversion.fields).toMatchObject({ amount, currency: code });
  });
});
