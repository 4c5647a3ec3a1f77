import type { TapResult } from '../types';
import { kernel } from '../kernel';
import { SENT } from '../names';
import { readOutbox, saveOutbox } from '../outbox';
import { post } from './send';

// tap-outbox.js stores each event in the outbox (snippet/outbox.ts) before it
// is sent; this file sends it, and resends what earlier page views left.

/** How long an unanswered event may wait for its proxy; then it is dropped. */
const OUTBOX_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;
const HTTP_ERROR = 300;
const SERVER_ERROR = 500;
const TOO_MANY_REQUESTS = 429;
/** How many keys are kept: enough for any shopper, small enough for localStorage. */
const KEPT_KEYS = 50;

/**
 * Deliveries under way, by key. An event tap-outbox.js stored before this
 * file loaded is handed over both by replay, as this file runs, and by
 * tap-outbox.js, when this file's load event fires: it is sent once. A settled one is forgotten, so
 * an event the proxy refused may be stored and sent again.
 */
const sending: Record<string, Promise<TapResult>> = {};

/** Sends an event stored under `key` and records the proxy's answer in the outbox. */
export const deliver = (key: string, body: string): Promise<TapResult> => {
  if (!sending[key]) {
    sending[key] = send(key, body).finally(() => {
      delete sending[key];
    });
  }
  return sending[key];
};

const send = (key: string, body: string): Promise<TapResult> =>
  post(key.split(':')[0], body).then((answer) => {
    if (!answer) {
      kernel.log(key, 'offline, kept for the next page view');
      return { ok: false, status: 'offline', reason: 'no-answer' };
    }
    kernel.log(key, answer[1]);
    const [status, result] = answer;
    // A 5xx or a 429 stays in the outbox; any other answer from the proxy is final.
    if (status >= SERVER_ERROR || status == TOO_MANY_REQUESTS) return result;
    const outbox = readOutbox();
    if (status >= HTTP_ERROR) {
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
  });

/** Resends what earlier page views left (and this one, before this file loaded), and drops what waited too long. */
export const replay = () => {
  const outbox = readOutbox();
  for (const key of Object.keys(outbox)) {
    const { b: body, t: savedAt } = Object(outbox[key]);
    if (!body) continue;
    if (Date.now() - savedAt < OUTBOX_LIFETIME_MS) {
      deliver(key, body);
    } else {
      delete outbox[key];
      saveOutbox(outbox);
      kernel.log('skip', 'expired ' + key);
    }
  }
};
