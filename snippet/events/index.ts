// Entry of tap-events.js: everything that stores a landing or sends (clicks,
// conversions, customers), registered with the tap.js that loaded it (snippet/kernel.ts).
import { kernel } from '../kernel';
import { Name } from '../names';
import { isTest } from '../test-mode';
import { clickAnswered } from './click';
import { store } from './landing';
import { deliver, replay } from './track';

if (kernel.data) {
  // tap.js picks the module up from here when this file's load event fires,
  // and stores again then, for a landing a single-page app made later.
  kernel.events = { deliver, store, clicked: () => clickAnswered };
  // The landing first, so resent events carry its cookie.
  const jar = store();
  // localStorage only when an event waits (snippet/outbox.ts): a landing opens none.
  if (kernel.cookie(Name.PENDING_COOKIE, jar)) {
    if (isTest(kernel.data)) kernel.log('test');
    replay();
  }
}
