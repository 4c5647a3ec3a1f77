// bench/miniflare.mjs runs the postback stand-in here, in its own process.
// Prints its URLs as one JSON line; answers "stats" on stdin; exits when stdin ends.
import { createInterface } from 'node:readline';
import { startPostbackServer } from '../test/postback/server.mjs';

const server = await startPostbackServer({ apiKey: process.argv[2] ?? 'bench-key' });
const { url, conversionUrl, customerUrl } = server;
/** @type {string | undefined} */
const clicksUrl = /** @type {any} */ (server).clicksUrl;
console.log(JSON.stringify({ url, conversionUrl, customerUrl, clicksUrl }));

const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  if (line.trim() !== 'stats') return;
  const byStatus = {};
  for (const record of server.received) byStatus[record.status] = (byStatus[record.status] ?? 0) + 1;
  console.log(JSON.stringify({ received: server.received.length, accepted: server.accepted().length, byStatus }));
});
input.on('close', () => server.close().then(() => process.exit(0)));
