import type { EventKind, TapResult } from '../types';
import { kernel } from '../kernel';
import { post } from './send';
import { isTest } from './test-mode';
import { SENT, load, save, type Pending } from './outbox';

/** How long an unanswered event may wait for its proxy; then it is dropped. */
const OUTBOX_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;
const HTTP_ERROR = 300;
const SERVER_ERROR = 500;
const TOO_MANY_REQUESTS = 429;

const deliver = (key: string, body: string): Promise<TapResult> =>
  post(key.split(':')[0], body).then((answer) => {
    kernel.log(key, answer);
    if (!answer) return { ok: false, status: 'offline', reason: 'no answer' };
    const [status, result] = answer;
    // A 5xx or a 429 stays in the outbox; any other answer from the proxy is final.
    if (status >= SERVER_ERROR || status == TOO_MANY_REQUESTS) return result;
    const outbox = load();
    if (status >= HTTP_ERROR) {
      delete outbox[key];
      kernel.ignore('refused ' + key);
    } else if ((result as { status?: string }).status == 'test') {
      // Checked but not sent: the same id may still be sent for real later.
      delete outbox[key];
    } else {
      outbox[key] = SENT;
    }
    save(outbox);
    return result;
  });

/**
 * The event's id. A signed event carries it inside `signed`, whose fields win
 * at the proxy, so that is the one the duplicate guard must use.
 */
const idOf = (event: Record<string, unknown>, field: string) => {
  const signed = typeof event.signed == 'string' && kernel.attempt(() => JSON.parse(event.signed as string));
  const inside = Object(signed)[field];
  return inside == null ? event[field] : inside;
};

/** Sends an event once per id from this browser, keeping it until a proxy answers. */
export const track = (kind: EventKind, input: unknown): TapResult | Promise<TapResult> => {
  const event = Object(input);
  const idField = (kind == 'convert' ? 'external' : kind) + '_id';
  const id = idOf(event, idField);
  if (id == null || !String(id).trim()) return kernel.ignore('missing ' + idField);
  const key = kind + ':' + id;
  const body = JSON.stringify(isTest() ? { ...event, test: true } : input);
  const outbox = load();
  if (outbox[key]) {
    kernel.ignore('duplicate');
    return { ok: true, status: 'duplicate' };
  }
  // Saved before sending, so a tab closed mid-request resends on the next page view.
  outbox[key] = { b: body, t: Date.now() };
  save(outbox);
  return deliver(key, body);
};

/** Resends what earlier page views left, and drops what waited too long. */
export const replay = () => {
  const outbox = load();
  for (const key of Object.keys(outbox)) {
    const { b: body, t: savedAt } = Object(outbox[key]) as Partial<Pending>;
    if (!body) continue;
    if (Date.now() - savedAt! < OUTBOX_LIFETIME_MS) {
      deliver(key, body);
    } else {
      delete outbox[key];
      save(outbox);
      kernel.ignore('expired ' + key);
    }
  }
};
