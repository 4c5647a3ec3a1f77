import { granted } from './consent';
import { keepLanding } from './landing';
import { attempt } from './log';

const onUrlChange = () => {
  if (granted) attempt(keepLanding);
};

/**
 * Single-page apps change the URL without a page load, and their routers may
 * strip `?ref=` soon after, so each change is read like a landing. The
 * original runs first with the page's own `this` and arguments, its result is
 * returned or its throw reaches the app, and nothing of ours can throw into it.
 */
export const watchHistory = () => {
  for (const name of ['pushState', 'replaceState'] as const) {
    const original = history[name];
    history[name] = function (this: History) {
      try {
        return original.apply(this, arguments as unknown as Parameters<History['pushState']>);
      } finally {
        onUrlChange();
      }
    };
  }
  addEventListener('popstate', onUrlChange);
};
