// @ts-check
// `npm run verify -- https://shop.example`: checks a live install from outside,
// as a shopper's browser and the merchant would see it, one line per step
// (docs/operations.md, "Checking a live install"). It sends nothing real to
// Tapfiliate: the landing and the conversion are test-mode events (docs/reference.md,
// "Test mode"), and the operator API is only read.
//
//   npm run verify -- https://shop.example
//   npm run verify -- https://shop.example --forwarder          # behind your own web server
//   TAPLINE_ADMIN_TOKEN=… npm run verify -- https://shop.example  # also the operator API
//   TAPLINE_SIGNING_SECRET=… npm run verify -- https://shop.example  # a signed test conversion
//
// Secrets come from the environment only, as for `npm run events`, so they stay
// out of shell history and `ps`. Exit codes: 0 all good, 1 something to fix, 2 usage.
import { createHmac } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const USAGE = `usage: npm run verify -- https://shop.example [--base-path /_tap] [--page /]
         [--forwarder | --no-forwarder] [--trust signed|webhooks|open]
  --forwarder      the worker sits behind your own web server (docs/guides/own-server.md):
                   /health must say forwarder: true. Default: expected when the home page
                   is not served through Cloudflare (no CF-Ray header) and the host is not local
  --trust          the trust mode you chose (docs/security.md); by default any is accepted
  --page           the page that must carry the tag (default /)
environment: TAPLINE_ADMIN_TOKEN (checks the operator API), TAPLINE_SIGNING_SECRET (signs the test conversion)`;

/** What the landing and the conversion carry: no affiliate of the program has it, and both are test events. */
const REFERRAL_CODE = 'tapline-verify';
/** A request that takes longer than this is reported, not waited for. */
const TIMEOUT_MS = 15_000;

/**
 * @typedef {{ ok: boolean, text: string, fix?: string }} Line
 * @typedef {{ url: URL, basePath: string, page: string, forwarder: boolean | undefined, trust?: string, adminToken?: string, signingSecret?: string }} Options
 */

/**
 * Runs every check against a live install and returns its lines; `print` gets each as it is decided.
 * @param {Options} options
 * @param {(line: Line) => void} [print]
 * @returns {Promise<Line[]>}
 */
export async function verify(options, print = () => {}) {
  /** @type {Line[]} */
  const lines = [];
  const pass = (/** @type {string} */ text) => add({ ok: true, text });
  const fail = (/** @type {string} */ text, /** @type {string} */ fix) => add({ ok: false, text, fix });
  const add = (/** @type {Line} */ line) => {
    lines.push(line);
    print(line);
  };

  // 0. The shop's address as a browser ends up on it (an apex that redirects to www is checked on www).
  const home = await request(new URL(options.page, options.url), { redirect: 'follow' });
  if ('error' in home) {
    fail(`${options.url.origin} cannot be reached: ${home.error}`, 'check the address, and that the shop is up');
    return lines;
  }
  const shop = new URL(home.response.url || options.url).origin;
  if (shop !== options.url.origin) pass(`${options.url.origin} redirects to ${shop}: checking ${shop}`);
  const base = `${shop}${options.basePath}`;
  const local = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(new URL(shop).hostname);
  const forwarderExpected = options.forwarder ?? (!local && !home.response.headers.has('cf-ray'));

  // 1. /health: the worker answers on the shop's own address, and is ready.
  const health = await request(`${base}/health`);
  if ('error' in health) {
    fail(`${base}/health cannot be reached: ${health.error}`, 'the worker is not on this address yet: see README, "To production"');
    return lines;
  }
  const healthJson = await jsonOf(health.response);
  if (health.response.status === 401) {
    fail(
      `${base}/health answers 401: your web server sends a Tapline-Forwarder header the worker does not accept`,
      'put the same value in your server\'s Tapline-Forwarder header and in the worker\'s secret: npx wrangler secret put TAPLINE_FORWARDER_SECRET --env production',
    );
    return lines;
  }
  if (health.response.status !== 200 || !healthJson || healthJson.ok !== true || typeof healthJson.configured !== 'boolean') {
    fail(
      `${base}/health is not Tapline's (HTTP ${health.response.status}, ${health.response.headers.get('content-type') ?? 'no content type'})`,
      forwarderExpected
        ? `forward ${options.basePath}/* to the worker in your web server (docs/guides/own-server.md)`
        : `add the worker's route for this host to wrangler.toml, e.g. { pattern = "${new URL(shop).host}${options.basePath}/*", zone_name = "…" }, and deploy (README, "To production")`,
    );
    return lines;
  }
  const trust = String(healthJson.trust);
  const durable = /** @type {{ durable?: boolean } | undefined} */ (healthJson.delivery)?.durable === true;
  if (healthJson.configured) pass(`${options.basePath}/health answers: configured, trust ${trust}, ${durable ? 'durable delivery' : 'delivery not durable'}, rate limit ${healthJson.rate_limit}`);
  else
    fail(
      `${options.basePath}/health answers configured: false: the worker refuses every event with 503 not_configured`,
      `${healthJson.forwarder === true ? 'your server sends the right secret, but maybe not all of X-Real-IP, X-Forwarded-Host and X-Forwarded-Proto (docs/guides/own-server.md); or ' : ''}a secret or setting is missing or unsafe, most often TAPFILIATE_API_KEY (npx wrangler secret put TAPFILIATE_API_KEY --env production). \`npx wrangler tail --env production\` while you open /health prints the reason (a not_configured line)`,
    );
  if (healthJson.rate_limit === 'none') {
    fail('no rate limit: browser events are not limited per shopper', 'keep the [[env.production.ratelimits]] binding of wrangler.toml, and deploy with --env production');
  }
  if (options.trust && options.trust !== trust) {
    fail(`trust is ${trust}, not ${options.trust}`, trustFix(options.trust));
  } else if (trust === 'open') {
    pass('trust open: anyone may post a conversion up to MAX_AMOUNT (docs/security.md); a shop with server code should set TAPLINE_SIGNING_SECRET');
  }
  if (healthJson.forwarder === true) pass('through your web server\'s forwarder: the worker follows its X-Real-IP, X-Forwarded-Host and X-Forwarded-Proto');
  else if (forwarderExpected)
    fail(
      `not through an authenticated forwarder (forwarder: ${JSON.stringify(healthJson.forwarder ?? null)})${options.forwarder === undefined ? '; expected because the home page is not served by Cloudflare (pass --no-forwarder if the worker runs on a route of your zone)' : ''}`,
      'set the worker\'s secret (npx wrangler secret put TAPLINE_FORWARDER_SECRET --env production) and send the same value as Tapline-Forwarder, with X-Real-IP, X-Forwarded-Host and X-Forwarded-Proto, from your server (docs/guides/own-server.md); without it every shopper shares your server\'s IP',
    );

  // 2. tap.js: the script, cacheable, revalidated by ETag.
  const script = await request(`${base}/tap.js`);
  if ('error' in script) fail(`${options.basePath}/tap.js cannot be loaded: ${script.error}`, 'see the /health line above');
  else {
    const type = script.response.headers.get('content-type') ?? '';
    const etag = script.response.headers.get('etag');
    const cache = script.response.headers.get('cache-control') ?? '';
    await script.response.arrayBuffer();
    const problems = [];
    if (script.response.status !== 200) problems.push(`HTTP ${script.response.status}`);
    if (!/^(text|application)\/javascript\b/i.test(type)) problems.push(`content type ${type || 'missing'}`);
    if (!etag) problems.push('no ETag');
    if (!/max-age=\d+/.test(cache) || /no-store|private/.test(cache)) problems.push(`Cache-Control ${cache || 'missing'}`);
    if (etag && problems.length === 0) {
      const again = await request(`${base}/tap.js`, { headers: { 'if-none-match': etag } });
      if (!('error' in again) && again.response.status !== 304) problems.push(`a revalidation with its ETag got HTTP ${again.response.status}, not 304`);
    }
    if (problems.length === 0) pass(`${options.basePath}/tap.js: ${type}, ${cache}, ETag revalidates (304)`);
    else
      fail(
        `${options.basePath}/tap.js: ${problems.join(', ')}`,
        'something between the browser and the worker changes its answer: pass the worker\'s Content-Type, Cache-Control and ETag through unchanged, and If-None-Match to it',
      );
  }

  // 3. The home page carries the tag, from the shop's own origin.
  const html = home.response.status === 200 ? await home.response.text() : '';
  const sources = [...html.matchAll(/<script\b[^>]*\bsrc\s*=\s*["']?([^"'\s>]+)/gi)].map((match) => {
    try {
      return new URL(match[1].replace(/&amp;/g, '&'), home.response.url || shop);
    } catch {
      return undefined;
    }
  });
  const tag = sources.find((src) => src && src.origin === shop && src.pathname === `${options.basePath}/tap.js`);
  const foreignTag = sources.find((src) => src && src.origin !== shop && src.pathname.endsWith(`${options.basePath}/tap.js`));
  const tapfiliateTag = sources.find((src) => src && /(^|\.)tapfiliate\.com$/.test(src.hostname));
  if (home.response.status !== 200) fail(`${options.page} answers HTTP ${home.response.status}`, 'pass --page with a page of the shop that answers 200');
  else if (tag) pass(`${options.page} carries the tag: <script src="${tag.pathname}">`);
  else if (foreignTag)
    fail(`${options.page} loads the tag from ${foreignTag.origin}, not from ${shop}`, `use the shop's own address, src="${options.basePath}/tap.js", so the script and its cookie are first-party`);
  else fail(`${options.page} has no <script src="${options.basePath}/tap.js">`, 'paste the two lines of the README into the <head> of every page (docs/guides/ for your CMS)');
  if (tapfiliateTag)
    fail(`${options.page} still loads Tapfiliate's own tag (${tapfiliateTag.host})`, 'switch by changing its URL to /_tap/tap.js and keep your calls: docs/guides/from-tapfiliate-js.md');

  // 4. A landing with ?ref=: the worker sets the cookie itself, first-party on the shop's domain.
  const secure = new URL(shop).protocol === 'https:';
  const landing = await request(`${base}/click`, {
    method: 'POST',
    headers: { origin: shop, 'content-type': 'text/plain;charset=UTF-8' },
    body: JSON.stringify({ referral_code: REFERRAL_CODE, landing_page: `${shop}/?ref=${REFERRAL_CODE}&tap_test=1`, test: true }),
  });
  /** @type {string | undefined} */
  let cookie;
  if ('error' in landing) fail(`POST ${options.basePath}/click cannot be sent: ${landing.error}`, 'see the /health line above');
  else {
    const answer = await jsonOf(landing.response);
    const setCookie = landing.response.headers.getSetCookie().find((value) => value.startsWith('tap_data='));
    if (landing.response.status === 403)
      fail(
        `a landing from ${shop} is refused (403 origin_not_allowed): the worker does not see this shop's address as its own`,
        forwarderExpected
          ? 'your server must send X-Forwarded-Host (the shop\'s host) and X-Forwarded-Proto, with the Tapline-Forwarder secret (docs/guides/own-server.md)'
          : 'the route must be on the shop\'s own host; a site on another host goes in ALLOWED_ORIGINS (docs/reference.md, "Settings")',
      );
    else if (landing.response.status !== 200 || answer?.status !== 'test')
      fail(`a test landing is answered HTTP ${landing.response.status} ${JSON.stringify(answer)}`, 'see the /health line above; docs/reference.md, "Troubleshooting"');
    else if (!setCookie) fail('a test landing gets no Set-Cookie: tap_data', 'your server must pass the worker\'s Set-Cookie back to the browser (docs/guides/own-server.md)');
    else {
      const attributes = cookieAttributes(setCookie);
      const host = new URL(shop).hostname;
      const domain = attributes.get('domain')?.replace(/^\./, '').toLowerCase();
      const problems = [];
      if (domain && host !== domain && !host.endsWith(`.${domain}`)) problems.push(`Domain=${domain} is not ${host}'s`);
      if (attributes.get('path') !== '/') problems.push(`Path=${attributes.get('path') ?? 'missing'}`);
      if (secure && !attributes.has('secure')) problems.push('not Secure on https: the worker thinks it is on http (X-Forwarded-Proto)');
      if (!/^lax$/i.test(attributes.get('samesite') ?? '')) problems.push(`SameSite=${attributes.get('samesite') ?? 'missing'}`);
      if (problems.length === 0) {
        cookie = setCookie.split(';')[0];
        pass(`a landing with ?ref= gets the cookie from the worker: Set-Cookie tap_data on ${domain ?? host}, first-party${secure ? ', Secure' : ''}, ${attributes.get('max-age') ? `${Math.round(Number(attributes.get('max-age')) / 86400)} days` : 'a session'}`);
      } else fail(`the worker's tap_data cookie: ${problems.join('; ')}`, 'the worker must see the shop\'s host and scheme: X-Forwarded-Host and X-Forwarded-Proto from an authenticated forwarder (docs/guides/own-server.md)');
    }
  }

  // 5. A tap_test conversion: checked as a real one, answered with what would be sent, nothing sent.
  const fields = { external_id: `tapline-verify-${Date.now()}`, amount: 1, currency: 'EUR', test: true };
  const signed = options.signingSecret ? JSON.stringify(fields) : undefined;
  const event = signed
    ? { signed, signature: createHmac('sha256', /** @type {string} */ (options.signingSecret)).update(signed).digest('hex'), test: true }
    : { ...fields, ...(!cookie && { referral_code: REFERRAL_CODE }) };
  const conversion = await request(`${base}/convert`, {
    method: 'POST',
    headers: { origin: shop, 'content-type': 'text/plain;charset=UTF-8', ...(cookie && { cookie }) },
    body: JSON.stringify(event),
  });
  if ('error' in conversion) fail(`POST ${options.basePath}/convert cannot be sent: ${conversion.error}`, 'see the /health line above');
  else {
    const answer = await jsonOf(conversion.response);
    const postbacks = /** @type {{ kind: string, url: string, body: Record<string, unknown> }[] | undefined} */ (answer?.postbacks);
    if (conversion.response.status === 200 && answer?.status === 'test' && Array.isArray(postbacks)) {
      const described = postbacks.map((postback) => `${postback.kind} → ${postback.url} (referral_code ${postback.body?.referral_code ?? '-'}, click_id ${postback.body?.click_id ?? '-'}, ip ${postback.body?.ip ?? '-'})`);
      pass(`a tap_test conversion is answered test${signed ? ' (signed)' : ''}, nothing sent; it would send: ${described.join('; ') || 'nothing'}`);
    } else if (conversion.response.status === 401 && !signed && (trust === 'signed' || trust === 'webhooks'))
      pass(`a tap_test conversion without a signature is refused (401 ${answer?.error}), as ${trust} trust should; set TAPLINE_SIGNING_SECRET in verify's environment to check a signed one`);
    else if (conversion.response.status === 401 && signed)
      fail(`a signed tap_test conversion is refused (401 ${answer?.error})`, 'the TAPLINE_SIGNING_SECRET you gave verify is not the worker\'s: put the same secret in both');
    else fail(`a tap_test conversion is answered HTTP ${conversion.response.status} ${JSON.stringify(answer)}`, 'see the lines above; docs/reference.md, "Troubleshooting"');
  }

  // 6. The operator API: is its token set, and (given one) does it answer.
  const summary = await request(`${base}/admin/api/summary`, options.adminToken ? { headers: { authorization: `Bearer ${options.adminToken}` } } : {});
  if ('error' in summary) fail(`the operator API cannot be reached: ${summary.error}`, 'see the /health line above');
  else {
    const answer = await jsonOf(summary.response);
    const status = summary.response.status;
    if (status === 503)
      fail('the operator API answers 503: TAPLINE_ADMIN_TOKEN is not set, so the console cannot open', 'npx wrangler secret put TAPLINE_ADMIN_TOKEN --env production   # e.g. the output of: openssl rand -hex 32');
    else if (!options.adminToken && status === 401) pass('the operator API is protected (401 without a token); set TAPLINE_ADMIN_TOKEN in verify\'s environment to check it answers');
    else if (options.adminToken && status === 200 && answer?.ok === true) pass(`the operator API answers with your token: last 24 h ${JSON.stringify(answer.last_24h)}`);
    else if (options.adminToken && status === 401) fail('the operator API refuses your token (401)', 'TAPLINE_ADMIN_TOKEN in verify\'s environment must be the worker\'s secret of the same name');
    else fail(`the operator API answers HTTP ${status} ${JSON.stringify(answer)}`, 'docs/operations.md, "Console"');
  }
  return lines;
}

/** @param {string} wanted */
function trustFix(wanted) {
  if (wanted === 'signed') return 'npx wrangler secret put TAPLINE_SIGNING_SECRET --env production (docs/security.md, "Signing")';
  if (wanted === 'webhooks') return 'set your payment platform\'s webhook secret and no signing secret (docs/security.md)';
  return 'delete the signing secret and the webhooks\' secrets (docs/security.md)';
}

/**
 * One request that never throws: its response, or why there is none.
 * @param {string | URL} url
 * @param {RequestInit} [init]
 * @returns {Promise<{ response: Response } | { error: string }>}
 */
async function request(url, init = {}) {
  try {
    return { response: await fetch(url, { redirect: 'manual', ...init, signal: AbortSignal.timeout(TIMEOUT_MS) }) };
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return { error: `${error instanceof Error ? error.message : String(error)}${cause}` };
  }
}

/** @param {Response} response @returns {Promise<Record<string, any> | undefined>} */
async function jsonOf(response) {
  try {
    const value = JSON.parse(await response.text());
    return value && typeof value === 'object' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** A Set-Cookie's attributes, lowercase names to values ('' for a flag). @param {string} setCookie */
function cookieAttributes(setCookie) {
  return new Map(
    setCookie
      .split(';')
      .slice(1)
      .map((part) => {
        const [name, ...value] = part.split('=');
        return /** @type {[string, string]} */ ([name.trim().toLowerCase(), value.join('=').trim()]);
      }),
  );
}

/** @param {string[]} argv @returns {Options | string} the options, or what is wrong with the arguments */
export function parseOptions(argv, env = process.env) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'base-path': { type: 'string', default: '/_tap' },
        page: { type: 'string', default: '/' },
        forwarder: { type: 'boolean' },
        'no-forwarder': { type: 'boolean' },
        trust: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  const { values, positionals } = parsed;
  if (values.help) return '';
  if (positionals.length !== 1) return 'give the shop\'s address, e.g. https://shop.example';
  let url;
  try {
    url = new URL(positionals[0]);
  } catch {
    return `not an address: ${positionals[0]}`;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `not an http(s) address: ${positionals[0]}`;
  if (values.forwarder && values['no-forwarder']) return 'give --forwarder or --no-forwarder, not both';
  if (values.trust && !['signed', 'webhooks', 'open'].includes(values.trust)) return `--trust is signed, webhooks or open, not ${values.trust}`;
  const basePath = `/${String(values['base-path']).replace(/^\/+|\/+$/g, '')}`;
  const page = String(values.page).startsWith('/') ? String(values.page) : `/${values.page}`;
  return {
    url,
    basePath,
    page,
    forwarder: values.forwarder ? true : values['no-forwarder'] ? false : undefined,
    trust: values.trust,
    adminToken: env.TAPLINE_ADMIN_TOKEN?.trim() || undefined,
    signingSecret: env.TAPLINE_SIGNING_SECRET?.trim() || undefined,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const options = parseOptions(process.argv.slice(2));
  if (typeof options === 'string') {
    if (options) console.error(options);
    console.error(USAGE);
    process.exit(options ? 2 : 0);
  }
  const color = process.stdout.isTTY && !process.env.NO_COLOR;
  const paint = (/** @type {string} */ code, /** @type {string} */ text) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  console.log(`Checking ${options.url.origin} (${options.basePath}, ${options.forwarder === undefined ? 'forwarder: auto' : options.forwarder ? 'behind your web server' : 'on a route of your zone'}); nothing real is sent to Tapfiliate`);
  const lines = await verify(options, (line) => {
    console.log(`${line.ok ? paint('32', '✓') : paint('31', '✗')} ${line.text}`);
    if (line.fix) console.log(`    → ${line.fix}`);
  });
  const failed = lines.filter((line) => !line.ok).length;
  console.log(failed === 0 ? 'All good.' : `${failed} thing${failed === 1 ? '' : 's'} to fix.`);
  process.exitCode = failed === 0 ? 0 : 1;
}
