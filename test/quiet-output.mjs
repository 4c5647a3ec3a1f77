// What a passing `npm test` prints should all mean something. workerd prints a
// line and a native stack trace of its own each time a connection ends before
// its request does: every test of a stand-in that drops a connection, and
// every workerd test file as its WebSocket to vitest closes. Those lines are
// not failures (a failure is vitest's report), so they are dropped here, from
// the output of the vitest process itself, where Miniflare copies workerd's.
// TAPLINE_TEST_LOGS=1 keeps everything, the worker's own log lines included.

/** A line workerd prints about a connection ended on purpose, or the native stack trace after it. */
const WORKERD_NOISE = [
  /^exception = \S+: disconnected: /,
  /^uncaught exception; .*Network connection lost\.$/,
  /^stack: (\S+workerd@\w+ ?)+$/,
  // test/delivery/faults.test.ts resets every ledger object on purpose, with this reason.
  /^uncaught exception; exception = \S+: failed: broken\.outputGateBroken; jsg\.Error: ledger reset by the restart test$/,
  // Vite, about the stripe package's own source maps, which it does not ship (test/refunds/ imports it into workerd).
  /^Sourcemap for "\S*node_modules\/stripe\/\S*" points to missing source files$/,
  // wrangler reads a developer's .dev.vars, whose values every workerd project blanks (vitest.config.ts).
  /^Using secrets defined in \.dev\.vars$/,
];

const keepAll = process.env.TAPLINE_TEST_LOGS === '1';

/** Drops workerd's noise from a stream, line by line; a chunk that does not end a line passes as it is. */
/** @param {NodeJS.WriteStream} stream */
function filter(stream) {
  const write = stream.write.bind(stream);
  /** @type {any} */ (stream).write = (/** @type {unknown} */ chunk, /** @type {unknown[]} */ ...rest) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : undefined;
    if (text === undefined || !text.endsWith('\n')) return write(/** @type {any} */ (chunk), .../** @type {any[]} */ (rest));
    const kept = text
      .split('\n')
      .slice(0, -1)
      .filter((line) => !WORKERD_NOISE.some((noise) => noise.test(line.replace(/\x1b\[[0-9;]*m/g, ''))));
    if (!kept.length) {
      // A write callback still runs, as the caller may wait for it.
      const callback = rest.find((argument) => typeof argument === 'function');
      if (typeof callback === 'function') callback();
      return true;
    }
    return write(kept.join('\n') + '\n', .../** @type {any[]} */ (rest));
  };
}

export function quietWorkerdOutput() {
  if (keepAll) return;
  filter(process.stdout);
  filter(process.stderr);
}

/**
 * vitest's onConsoleLog: the worker's own JSON log lines (`{"event":…}`), which
 * tests read through a console spy where they matter, are not printed.
 */
/** @param {string} log @returns {false | void} */
export function onConsoleLog(log) {
  if (!keepAll && /^\{"event":"/.test(log.trim())) return false;
}
