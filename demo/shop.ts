import { Hono } from 'hono';
import { html, raw } from 'hono/html';
import { hmacSign } from '../proxy/lib/hmac';

/** The install from the README: the stub, then the snippet from the shop's own domain. */
const TAP_TAGS = raw(
  `<script>window.tap=window.tap||function(){(tap.q=tap.q||[]).push(arguments)}</script>\n` +
    `<script async src="/_tap/tap.js" data-debug></script>`,
);

const STYLE = raw(`<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; color: #222 }
  a.button, button { display: inline-block; background: #1a6; color: #fff; border: 0; border-radius: .4rem; padding: .6rem 1.2rem; font: inherit; text-decoration: none; cursor: pointer }
  pre { background: #f4f4f4; padding: 1rem; border-radius: .4rem; white-space: pre-wrap; overflow-wrap: anywhere }
  /* A signed order is one long word: it wraps anywhere rather than widen the page on a phone. */
  code { overflow-wrap: anywhere }
  small { color: #666 }
</style>`);

function page(title: string, body: ReturnType<typeof html>) {
  return html`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${title} · Tapline demo shop</title>
    ${STYLE} ${TAP_TAGS}
  </head>
  <body>
    <p><small>Tapline demo shop · served by <code>wrangler dev</code> next to the proxy under <code>/_tap</code></small></p>
    ${body}
  </body>
</html>`;
}

/**
 * A three-page shop on the proxy's origin, for `npm start` only: the landing
 * page captures `?ref=`, the thank-you page calls `tap.convert`. It is wired in
 * by demo/worker.ts as the proxy's "origin", so it never ships in production.
 */
export function createDemoShop() {
  const shop = new Hono<{ Bindings: Env }>();

  shop.get('/', (c) =>
    c.html(
      page(
        'Welcome',
        html`<h1>Welcome to the demo shop</h1>
          <p id="arrived">(loading tap.js…)</p>
          <pre id="data" hidden></pre>
          <p><a class="button" href="/product">See the product</a></p>
          <script>
            addEventListener('load', function () {
              var data = window.tap && tap.data ? tap.data() : null;
              var arrived = document.getElementById('arrived');
              if (!data) {
                arrived.innerHTML = 'No affiliate attribution is stored in this browser: open <a href="/?ref=demo">/?ref=demo</a>, as an affiliate&rsquo;s link would.';
                return;
              }
              arrived.innerHTML = 'An affiliate link brought you here: the snippet stored its tracking parameters in the <code>tap_data</code> cookie. An order now is credited to <strong></strong>.';
              arrived.querySelector('strong').textContent = data.referral_code || 'the stored identifiers';
              var pre = document.getElementById('data');
              pre.textContent = JSON.stringify(data, null, 2);
              pre.hidden = false;
            });
          </script>`,
      ),
    ),
  );

  shop.get('/product', (c) =>
    c.html(
      page(
        'Product',
        html`<h1>Tapline mug</h1>
          <p>A very fine mug. 49.00 EUR.</p>
          <form action="/thank-you" method="get">
            <input type="hidden" name="order" id="order" />
            <button type="submit">Buy now</button>
          </form>
          <script>
            document.getElementById('order').value = 'ORD-' + Date.now().toString(36).toUpperCase();
          </script>`,
      ),
    ),
  );

  // The merchant's server signs the order as it renders the page (docs/security.md),
  // so no browser can change the amount or claim another order's id.
  shop.get('/thank-you', async (c) => {
    const order = (c.req.query('order') ?? '').replace(/[^\w-]/g, '').slice(0, 64) || 'ORD-UNKNOWN';
    const signed = JSON.stringify({ external_id: order, amount: 49, currency: 'EUR', customer_id: `CUS-${order}` });
    const secret = c.env?.TAPLINE_SIGNING_SECRET?.trim();
    const conversion = secret ? { signed, signature: await hmacHex(secret, signed) } : JSON.parse(signed);
    return c.html(
      page(
        'Thank you',
        html`<h1>Thank you for your order ${order}</h1>
          <p>The shop's server signed the order with <code>TAPLINE_SIGNING_SECRET</code>, and the page called
            <code>tap.convert(${JSON.stringify(conversion)})</code>.</p>
          <p id="credited"></p>
          <p id="answered">The answer:</p>
          <pre id="result">(waiting…)</pre>
          <p><small>Reload this page: the same order is not sent twice. The terminal running <code>npm start</code>
            prints each postback the local Tapfiliate stand-in receives.</small></p>
          <p><a href="/_tap/admin/#event=${encodeURIComponent(`con:${order}`)}">See this order in the console</a> ·
            <a href="/product">Buy another</a></p>
          <script>
            var conversion = ${raw(JSON.stringify(conversion))};
            addEventListener('load', function () {
              var out = document.getElementById('result');
              if (!window.tap || !tap.convert) { out.textContent = 'tap.js did not load'; return; }
              var data = tap.data();
              document.getElementById('credited').textContent = data && data.referral_code
                ? 'This order is credited to the affiliate ' + data.referral_code + '.'
                : 'No affiliate attribution is stored in this browser, so Tapfiliate credits this order to nobody (unattributed).';
              tap.convert(conversion).then(function (result) {
                out.textContent = JSON.stringify(result, null, 2);
                // No request left the page when the browser had already sent this order: say who answered.
                var asked = performance.getEntriesByType('resource').some(function (entry) { return entry.name.indexOf('/_tap/convert') >= 0; });
                document.getElementById('answered').textContent = asked
                  ? 'The proxy answered:'
                  : 'This browser had already sent this order, so the snippet answered itself and sent nothing:';
              });
            });
          </script>`,
      ),
    );
  });

  // Browsers ask for it on every page; a 204 keeps the demo's log quiet.
  shop.get('/favicon.ico', (c) => c.body(null, 204));
  shop.notFound((c) => c.html(page('Not found', html`<h1>Not found</h1><p><a href="/">Home</a></p>`), 404));
  return shop;
}

/** The lowercase hex HMAC-SHA256 of `text`: PHP's hash_hmac('sha256', $text, $secret). */
async function hmacHex(secret: string, text: string): Promise<string> {
  return Array.from(new Uint8Array(await hmacSign(secret, text)), (byte) => byte.toString(16).padStart(2, '0')).join('');
}
