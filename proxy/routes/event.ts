// POST /convert and POST /customer: one event, from the browser or from the
// merchant's server, checked, attributed, and handed to delivery.
import type { Handler } from 'hono';
import { maxAmountOf, secretHint, signingSecretOf } from '../config';
import type { CreateDelivery } from '../delivery';
import { hasIdentifier, identifiersFromCookieValue, identifiersFromReference, mergeIdentifiers } from '../events/identifiers';
import { conversionJob, customerJob } from '../events/job';
import { conversionSchema, customerSchema, IDENTIFIER_FIELDS, serverEventExtrasSchema, type Identifiers } from '../events/schema';
import { verifySigned } from '../events/signature';
import { answerDelivery, deliver, ignored, isZeroAmount, jobPostbacks, notConfigured, refuseUnlessConfigured, signedEventRefused, testAnswer, unattributed, type Note } from '../http/answers';
import { cookieIdentifiers, invalidRequest, jsonObject, parseWith, visitorOf, type AppContext, type AppEnv } from '../http/context';
import { isServerEvent } from '../http/trust';
import { cleanVisitor } from '../lib/network';
import { webhooksOwnOrders } from '../platforms';

/**
 * The handler for one kind of event. Browser events have passed the origin
 * policy and the rate limit (app.ts); server events, the server token.
 */
export function eventRoute(kind: 'conversion' | 'customer', createDelivery: CreateDelivery): Handler<AppEnv> {
  return async function handleEvent(c) {
    const log = c.get('log');
    refuseUnlessConfigured(c);
    const body = jsonObject(await c.req.text());
    const { fields, signed } = await trustedFields(c, body);

    const event = kind === 'conversion' ? parseWith(conversionSchema, fields) : parseWith(customerSchema, fields);
    if ('external_id' in event) log.external_id = event.external_id;
    else log.customer_id = event.customer_id;
    const source = isServerEvent(c) ? 'server' : 'browser';
    // Checked before any answer, a zero amount's `ignored` included: bad input is a 400 however the event would end.
    const extras = isServerEvent(c) ? parseWith(serverEventExtrasSchema, body) : undefined;
    // What the ledger keeps of an event answered without a postback (never the visitor): a test records nothing.
    const note = (identifiers: Identifiers): Note | undefined =>
      event.test ? undefined : { createDelivery, event: { job: 'external_id' in event ? conversionJob(event, identifiers, {}) : customerJob(event, identifiers, {}), source, signed } };
    // A browser's zero amount is not recorded: only what the merchant's own server says is.
    if (isZeroAmount(event)) return ignored(c, 'zero_amount', source === 'server' ? note(mergeIdentifiers({}, event)) : undefined);
    const maxAmount = maxAmountOf(c.env);
    if ('amount' in event && event.amount !== undefined && !signed && !isServerEvent(c) && event.amount > maxAmount) {
      throw invalidRequest([{ path: 'amount', message: `must be at most ${maxAmount} unless the event is signed (MAX_AMOUNT)` }]);
    }

    // Attribution: the cookie (or a server event's copy of it, or a reference), then the body's identifiers.
    const stored = extras
      ? extras.tap_data
        ? identifiersFromCookieValue(extras.tap_data)
        : identifiersFromReference(extras.reference)
      : cookieIdentifiers(c);
    const identifiers = mergeIdentifiers(stored, event);
    const visitor = extras ? cleanVisitor(extras.ip, extras.user_agent) : visitorOf(c);

    if (!hasIdentifier(identifiers)) return unattributed(c, note(identifiers));
    const job = 'external_id' in event ? conversionJob(event, identifiers, visitor) : customerJob(event, identifiers, visitor);
    if (event.test) return testAnswer(c, jobPostbacks(c, job));
    return answerDelivery(c, await deliver(c, createDelivery, { job, source, signed }));
  };
}

/**
 * The fields an event is read from. A signed event's own fields win, and only
 * identifiers (and the test flag) are read from outside `signed`: attribution
 * belongs to the browser, the order to the merchant's server.
 */
async function trustedFields(c: AppContext, body: Record<string, unknown>): Promise<{ fields: Record<string, unknown>; signed: boolean }> {
  if (isServerEvent(c)) return { fields: body, signed: false };
  const secret = signingSecretOf(c.env);
  if (body.signed === undefined) {
    // A webhook owns the orders even in open trust: unsigned, this event could only pre-empt it.
    if (secret || webhooksOwnOrders(c.env)) throw signedEventRefused('signature_required');
    return { fields: body, signed: false };
  }
  if (!secret) throw notConfigured([`a signed event arrived but ${secretHint('TAPLINE_SIGNING_SECRET')}`], 'this worker has no signing secret to verify signed events');
  const verdict = await verifySigned(body, secret);
  if (!verdict.ok) throw 'issues' in verdict ? invalidRequest(verdict.issues) : signedEventRefused(verdict.refused);
  const inside = verdict.fields;
  const outside: Record<string, unknown> = {};
  for (const field of IDENTIFIER_FIELDS) if (body[field] !== undefined) outside[field] = body[field];
  if (body.test !== undefined) outside.test = body.test;
  return { fields: { ...outside, ...inside }, signed: true };
}
