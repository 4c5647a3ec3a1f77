import type { TapResult } from '../types';
import { kernel, type OutboxKey } from '../kernel';
import { SENT } from '../names';
import { readOutbox, saveOutbox } from '../outbox';
import { post, type Answer } from './send';

// tap-outbox.js stores each event in the outbox (snippet/outbox.ts) before it
// is sent; this file sends it, and resends what earlier page views left.

/** How long an unanswered event may wait for its proxy; then it is dropped. */
const OUTBOX_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;
/** The proxy's statuses this file tells apart; a const enum, so esbuild writes each where it is used (as snippet/names.ts). */
const enum Status {
  HTTP_ERROR = 300,
  TOO_MANY_REQUESTS = 429,
  SERVER_ERROR = 500,
}
/** How many keys are kept: enough for any shopper, small enough for localStorage. */
const KEPT_KEYS = 50;

/**
 * Requests under way, by body. The same event may be handed over twice at once:
 * by replay, under the key an earlier page view left it (tap.js's stash,
 * snippet/api.ts), and by tap-outbox.js, which keeps it under its id on this
 * one. It is sent once, and each caller records the answer under its own key. A settled one is forgotten, so an event the proxy refused may
 * be stored and sent again.
 */
const sending: Record<string, Promise<Answer>> = {};

/** Sends an event stored under `key` and records the proxy's answer in the outbox. */
export const deliver = (key: string, body: string): Promise<TapResult> =>
  (sending[body] ||= post(key.split(':')[0], body).finally(() => {
    delete sending[body];
  })).then((answer) => record(key, answer));

const record = (key: string, answer: Answer): TapResult => {
  if (!answer) {
    kernel.log(key, 'offline, kept for the next page view');
    return { ok: false, status: 'offline', reason: 'no-answer' };
  }
  kernel.log(key, answer[1]);
  const [status, result] = answer;
  const outbox = readOutbox();
  // A 5xx or a 429 stays in the outbox; any other answer from the proxy is final. A key
  // the outbox no longer holds was replaced under the event's id (above): nothing to record.
  if (status >= Status.SERVER_ERROR || status == Status.TOO_MANY_REQUESTS || !outbox[key]) return result;
  if (status >= Status.HTTP_ERROR) {
    delete outbox[key];
    kernel.log('skip', 'refused ' + key);
  } else if ((result as { status?: string }).status == 'test') {
    // Checked but not sent: the same id may still be sent for real later.
    delete outbox[key];
  } else {
    outbox[key] = SENT;
  }
  // Only the newest keys; string keys keep insertion order (ECMA-262 OrdinaryOwnPropertyKeys).
  for (const old of Object.keys(outbox).slice(0, -KEPT_KEYS)) delete outbox[old];
  saveOutbox(outbox);
  return result;
};

/** Resends what earlier page views left (and this one, before this file loaded), and drops what waited too long. */
export const replay = () => {
  const outbox = readOutbox();
  for (const key of Object.keys(outbox)) {
    const { b: body, t: savedAt } = Object(outbox[key]);
    // What tap.js stashed on this page view (`convert:<ms>` saved at that ms, snippet/api.ts) is
    // tap-outbox.js's to keep under its id: only a stash an earlier page view left is sent as it is.
    // A key tap-outbox.js keeps on this page view it sends itself, once detect's landing is stored.
    if (!body || kernel[key as OutboxKey] || (key.endsWith(':' + savedAt) && savedAt >= performance.timeOrigin)) continue;
    if (Date.now() - savedAt < OUTBOX_LIFETIME_MS) {
      deliver(key, body);
    } else {
      delete outbox[key];
      saveOutbox(outbox);
      kernel.log('skip', 'expired ' + key);
    }
  }
};
