// Entry of tap-events.js: everything that stores a landing or sends (clicks,
// conversions, customers), registered with the tap.js that loaded it.
import { kernel } from '../kernel';
import { EVENTS, PENDING_COOKIE } from '../names';
import { land as store } from './landing';
import { deliver, replay } from './track';

/** A landing cookie that cannot be read is dropped, and never throws into tap.js's promise chain. */
const land = () => {
  try {
    store();
  } catch (error) {
    kernel.log(error);
  }
};

if (kernel.data) {
  // tap.js picks the module up from here when this file's load event fires,
  // and calls land() again then, for a landing a single-page app made later.
  kernel[EVENTS] = { deliver, land };
  // The landing first, so resent events carry its cookie.
  land();
  if (kernel.test()) kernel.log('test');
  // localStorage only when an event waits (snippet/outbox.ts): a landing opens none.
  if (kernel.cookie(PENDING_COOKIE)) replay();
}
