import { granted } from './consent';
import { land } from './landing';
import { attempt } from './log';

const onUrlChange = () => {
  if (granted) attempt(land);
};

/**
 * Single-page apps change the URL without a page load, and their routers may
 * strip `?ref=` soon after, so each change is read like a landing. The
 * original runs first with the page's own `this` and arguments, its result is
 * returned, and nothing of ours can throw into the app.
 */
export const watchHistory = () => {
  for (const name of ['pushState', 'replaceState'] as const) {
    const original = history[name];
    history[name] = function (this: History, ...args: Parameters<History['pushState']>) {
      const result = original.apply(this, args);
      onUrlChange();
      return result;
    };
  }
  addEventListener('popstate', onUrlChange);
};
