import { CHROMIUM, chromiumMissing } from './chromium';

/** Once per run: CI must run the browser suite; a laptop without Chromium is told loudly how to get it. */
export default function checkChromium(): void {
  if (!chromiumMissing) return;
  if (process.env.CI) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium`);
  console.warn(`\nSKIPPED: end-to-end suite, no Chromium at ${CHROMIUM}. Install it: apt-get install -y chromium\n`);
}
