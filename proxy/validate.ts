import type * as z from 'zod/mini';
import { jsonError } from './errors';

/** zod's issues as the contract's `{path, message}`: path is dotted (`meta_data.plan`), '' for the body itself. */
export function toIssues(error: z.core.$ZodError): { path: string; message: string }[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}

/** Parses a JSON body against an event schema, or throws the 400 that names each field. */
export function parseEvent<Schema extends z.ZodMiniType>(schema: Schema, body: string): z.output<Schema> {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    throw jsonError(400, {
      ok: false,
      error: 'invalid_request',
      issues: [{ path: '', message: 'the body is not valid JSON' }],
    });
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw jsonError(400, { ok: false, error: 'invalid_request', issues: toIssues(parsed.error) });
  return parsed.data;
}
