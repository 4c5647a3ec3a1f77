import type { Handler } from 'hono';
import { getCookie } from 'hono/cookie';
import type * as z from 'zod/mini';
import { answerFor } from '../answer';
import type { AppEnv } from '../app-env';
import { COOKIE_NAME, hasIdentifier, identifiersFromCookie, mergeIdentifiers, pickIdentifiers } from '../attribution';
import { clientInfo, type ClientInfo } from '../client';
import type { CreateDelivery, PostbackJob } from '../delivery/types';
import { scrub } from '../errors';
import type { Identifiers } from '../schema';
import { apiKeyOf } from '../settings';
import { parseEvent } from '../validate';

export interface EventHandlerOptions<Schema extends z.ZodMiniType<Identifiers>> {
  schema: Schema;
  toJob: (event: z.output<Schema>, identifiers: Identifiers, client: ClientInfo) => PostbackJob;
  createDelivery: CreateDelivery;
  /** The id the log line names the event by. */
  logId: (event: z.output<Schema>) => string | undefined;
}

/**
 * Validates the body, merges attribution (cookie, then body), enriches with the
 * client, and hands the job to delivery. Without any identifier nothing goes
 * upstream: Tapfiliate would only reject it.
 */
export function eventHandler<Schema extends z.ZodMiniType<Identifiers>>(
  options: EventHandlerOptions<Schema>,
): Handler<AppEnv> {
  const { schema, toJob, createDelivery, logId } = options;
  return async function handleEvent(c) {
    const event = parseEvent(schema, await c.req.text());
    const log = c.get('log');
    log.external_id = logId(event);
    const identifiers = mergeIdentifiers(identifiersFromCookie(getCookie(c, COOKIE_NAME)), pickIdentifiers(event));
    if (!hasIdentifier(identifiers)) {
      log.result = 'unattributed';
      return c.json({ ok: true, status: 'unattributed' }, 200);
    }
    const result = await createDelivery(c.env, c.executionCtx).submit(toJob(event, identifiers, clientInfo(c)));
    log.result = result.status;
    if (result.status === 'rejected') log.upstream_status = result.upstreamStatus;
    const { status, body } = answerFor(result, (text) => scrub(text, apiKeyOf(c.env)));
    return c.json(body, status);
  };
}
