// Entry of tap-events.js: everything that stores a landing or sends (clicks,
// conversions, customers), registered with the tap.js that loaded it.
import { kernel } from '../kernel';
import { EVENTS, PENDING_COOKIE } from '../names';
import { land as store } from './landing';
import { deliver, replay } from './track';

/**
 * Stores a landing the landing cookie holds, then returns the document's
 * cookies as they were before (read once, snippet/cookie.ts). A landing cookie
 * that cannot be read is dropped, and nothing throws into tap.js's promise chain.
 */
const land = () => {
  const jar = attemptJar();
  try {
    store(jar);
  } catch (error) {
    kernel.log(error);
  }
  return jar;
};

/** `document.cookie`, or '' where the page makes it throw. */
const attemptJar = () => {
  try {
    return document.cookie;
  } catch {
    return '';
  }
};

if (kernel.data) {
  // tap.js picks the module up from here when this file's load event fires,
  // and calls land() again then, for a landing a single-page app made later.
  kernel[EVENTS] = { deliver, land };
  // The landing first, so resent events carry its cookie.
  const jar = land();
  // localStorage only when an event waits (snippet/outbox.ts): a landing opens none.
  if (kernel.cookie(PENDING_COOKIE, jar)) {
    if (kernel.test()) kernel.log('test');
    replay();
  }
}
