import type { DeliveryResult } from './delivery/types';
import type { TapResult } from './schema';

/**
 * What the browser is told once delivery has taken the job (contract §5). A
 * rejection carries Tapfiliate's one-line message, never its body or headers.
 */
export function answerFor(
  result: DeliveryResult,
  oneLine: (text: string) => string,
): { status: 200 | 202 | 422; body: TapResult } {
  switch (result.status) {
    case 'sent':
    case 'duplicate':
      return { status: 200, body: { ok: true, status: result.status } };
    case 'queued':
      return { status: 202, body: { ok: true, status: 'queued' } };
    case 'rejected':
      return { status: 422, body: { ok: false, error: 'upstream_rejected', message: oneLine(result.message) } };
  }
}
