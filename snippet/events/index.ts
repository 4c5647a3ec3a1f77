// Entry of tap-events.js: everything that sends (clicks, conversions,
// customers), registered with the tap.js that loaded it.
import { kernel } from '../kernel';
import { EVENTS } from '../names';
import { click } from './click';
import { isTest } from './test-mode';
import { replay, track } from './track';

if (kernel.ready) {
  if (isTest()) kernel.log('test mode is on');
  kernel.ready(EVENTS, { track, replay, click });
}
