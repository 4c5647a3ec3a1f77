// Entry of tap-outbox.js, loaded with tap-events.js at a page's first
// `tap.convert` or `tap.customer`: keeps each event in the outbox under its id,
// once per id (signed and unsigned apart) from this browser, in place of the copy
// tap.js stashed at the call, then has tap-events.js send it (snippet/kernel.ts).
import { kernel } from '../kernel';
import { Name } from '../names';
import { readOutbox, saveOutbox } from '../outbox';
import { isTest } from '../test-mode';
import type { CompatModule, EventRoute, EventsModule, OutboxKey, OutboxModule } from '../kernel';
import type { TapResult } from '../types';

/** Every event this file drops, with its reason in debug mode (`[tap] skip no-id`), as tap.js's own `ignore`. */
const skip = (reason: string): TapResult => {
  kernel.log('skip', reason);
  return { ok: false, status: 'skipped', reason };
};

/**
 * The event's id. A signed event carries it inside `signed`, whose fields win
 * at the proxy, so that is the one the duplicate guard must use.
 */
const idOf = (event: Record<string, unknown>, field: string) => {
  let inside;
  // No `signed`, one that does not parse, or a JSON null throws: the outer field counts.
  try {
    inside = JSON.parse(event.signed as string)[field];
  } catch {}
  return inside ?? event[field];
};

/**
 * Settles once the landing of every Tapfiliate `detect` made so far is stored
 * (its `referral_code`), so a Tapline event made after one carries its cookie.
 * tap.js sends those calls to tap-compat.js, which may arrive after this file:
 * its tag in the page says tap.js asked for it (snippet/loader.ts), and a page
 * that made no such call waits for nothing.
 */
const detected = () =>
  document.querySelector('script[src*="tap-' + Name.COMPAT + '.js"]') && kernel.load<CompatModule>(Name.COMPAT).then((compat) => compat && compat.landed());

/**
 * Stores an event in the outbox under its key, in place of the copy tap.js
 * stashed at the call (snippet/api.ts), before it is sent, so neither a
 * tap-events.js that fails to load nor a page left at once loses it; then
 * hands it to tap-events.js. When that file cannot load, the event waits for a
 * later page view. May throw (an unserialisable event): tap.js answers `skipped`.
 */
const keep: OutboxModule = (kind: EventRoute, input: unknown, stashed?: string) => {
  const event = Object(input);
  const id = idOf(event, kind == 'convert' ? 'external_id' : 'customer_id');
  // A signed event and an unsigned one with the same id are kept apart, so neither
  // shadows the other: one of them is the one the worker's trust mode takes, and its
  // ledger counts the order once (docs/reference.md, "Once per id"). `signed` present,
  // as the proxy reads it.
  const key = (kind + ':' + id + (event.signed !== undefined ? ' signed' : '')) as OutboxKey;
  // `undefined` is left out of the JSON.
  const body = JSON.stringify({ ...event, test: isTest(kernel.data) || undefined });
  const outbox = readOutbox();
  if (stashed) delete outbox[stashed];
  let skipped: TapResult | undefined;
  if (id == null || !String(id).trim()) skipped = skip('no-id');
  else if (outbox[key]) {
    skip('dup');
    skipped = { ok: true, status: 'duplicate' };
  } else {
    // Before it is saved: a tap-events.js that runs while this waits for detect must
    // not send it without detect's cookie (snippet/events/track.ts, replay).
    kernel[key] = true;
    outbox[key] = { b: body, t: Date.now() };
  }
  saveOutbox(outbox);
  return (
    skipped ||
    Promise.resolve()
      .then(detected)
      // A page that makes the query throw: sent without waiting.
      .catch(kernel.log)
      .then(() => kernel.load<EventsModule>(Name.EVENTS))
      .then((events): TapResult | Promise<TapResult> => (events ? events.deliver(key, body) : { ok: false, status: 'offline', reason: 'not-loaded' }))
  );
};

if (kernel.data) kernel.outbox = keep;
