// Entry of tap-events.js: everything that sends (clicks, conversions,
// customers), registered with the tap.js that loaded it.
import { kernel } from '../kernel';
import { EVENTS } from '../names';
import { click } from './click';
import { deliver, replay } from './track';

if (kernel.data) {
  if (kernel.test()) kernel.log('test');
  // tap.js picks the module up from here when this file's load event fires.
  kernel[EVENTS] = { deliver, click };
  // tap.js loads this file only after the landing is stored, so resent events carry its cookie.
  replay();
}
