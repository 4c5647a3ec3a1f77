// Shared by the Paddle and Lemon Squeezy route tests in workerd: their signatures made
// with Web Crypto, their fixtures as raw text with fresh ids, and one POST each.
import { request, unique } from './helpers';

import paddleTransactionText from '../webhooks/fixtures/paddle-transaction-completed.json?raw';
import paddleRenewalText from '../webhooks/fixtures/paddle-transaction-renewal.json?raw';
import paddleRefundPartialText from '../webhooks/fixtures/paddle-adjustment-refund-partial.json?raw';
import paddleRefundFullText from '../webhooks/fixtures/paddle-adjustment-refund-full.json?raw';
import lsOrderText from '../webhooks/fixtures/lemonsqueezy-order-created.json?raw';
import lsRenewalText from '../webhooks/fixtures/lemonsqueezy-subscription-payment-success.json?raw';
import lsRefundText from '../webhooks/fixtures/lemonsqueezy-order-refunded.json?raw';

export const PADDLE_SECRET = 'pdl_ntfset_workerd_live_7e6d5c4b3a';
export const PADDLE_SANDBOX_SECRET = 'pdl_ntfset_workerd_sandbox_1a2b3c4d';
export const LEMONSQUEEZY_SECRET = 'ls_workerd_whsec_9f8e7d';
export const platformSecrets = {
  PADDLE_WEBHOOK_SECRET: PADDLE_SECRET,
  PADDLE_SANDBOX_WEBHOOK_SECRET: PADDLE_SANDBOX_SECRET,
  LEMONSQUEEZY_WEBHOOK_SECRET: LEMONSQUEEZY_SECRET,
};

const encoder = new TextEncoder();
async function hmacHex(secret: string, data: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const bytes = new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(data)));
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** `Paddle-Signature: ts=<s>;h1=<hex HMAC-SHA256 of "ts:body">`. */
export async function paddleSignature(body: string, { secret = PADDLE_SECRET, ts = Math.floor(Date.now() / 1000) } = {}) {
  return `ts=${ts};h1=${await hmacHex(secret, `${ts}:${body}`)}`;
}

export async function postPaddle(env: Env, body: string, { sandbox = false, signature }: { sandbox?: boolean; signature?: string | null } = {}) {
  const header = signature === undefined ? await paddleSignature(body, { secret: sandbox ? PADDLE_SANDBOX_SECRET : PADDLE_SECRET }) : signature;
  return request(env, sandbox ? '/webhooks/paddle/sandbox' : '/webhooks/paddle', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(header ? { 'paddle-signature': header } : {}) },
    body,
  });
}

export async function postLemonSqueezy(env: Env, body: string, { signature }: { signature?: string | null } = {}) {
  const header = signature === undefined ? await hmacHex(LEMONSQUEEZY_SECRET, body) : signature;
  const name = (JSON.parse(body) as { meta?: { event_name?: string } }).meta?.event_name ?? '';
  return request(env, '/webhooks/lemonsqueezy', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-event-name': name, ...(header ? { 'x-signature': header } : {}) },
    body,
  });
}

type Json = Record<string, any>;
const copy = (text: string): Json => JSON.parse(text);

/** A Paddle notification: the fixture with fresh event, transaction and customer ids, edited by `edit`. */
export function paddleTransaction(edit: (data: Json) => void = () => {}, { renewal = false } = {}): { body: string; data: Json } {
  const event = copy(renewal ? paddleRenewalText : paddleTransactionText);
  event.event_id = unique('evt_');
  event.notification_id = unique('ntf_');
  event.data.id = unique('txn_');
  event.data.customer_id = unique('ctm_');
  event.data.subscription_id = unique('sub_');
  edit(event.data);
  return { body: JSON.stringify(event), data: event.data };
}

export function paddleAdjustment(transactionId: string, { full = false, edit = () => {} }: { full?: boolean; edit?: (data: Json) => void } = {}): string {
  const event = copy(full ? paddleRefundFullText : paddleRefundPartialText);
  event.event_id = unique('evt_');
  event.data.id = unique('adj_');
  event.data.transaction_id = transactionId;
  edit(event.data);
  return JSON.stringify(event);
}

let lsIds = 0;
/** Lemon Squeezy ids are numbers: fresh ones, larger than any fixture's. */
const lsId = () => `${Date.now() % 1e9}${String(++lsIds).padStart(3, '0')}`;

export function lemonSqueezyOrder(edit: (body: Json) => void = () => {}): { body: string; id: string; customer: string } {
  const event = copy(lsOrderText);
  const id = lsId();
  const customer = lsId();
  event.data.id = id;
  event.data.attributes.customer_id = Number(customer);
  edit(event);
  return { body: JSON.stringify(event), id, customer };
}

export function lemonSqueezyRenewal(customer: string, edit: (body: Json) => void = () => {}): { body: string; id: string } {
  const event = copy(lsRenewalText);
  const id = lsId();
  event.data.id = id;
  event.data.attributes.customer_id = Number(customer);
  edit(event);
  return { body: JSON.stringify(event), id };
}

export function lemonSqueezyRefund(orderId: string, refunded: number, { full = false } = {}): string {
  const event = copy(lsRefundText);
  event.data.id = orderId;
  Object.assign(event.data.attributes, { refunded_amount: refunded, status: full ? 'refunded' : 'partial_refund', refunded: full });
  return JSON.stringify(event);
}
