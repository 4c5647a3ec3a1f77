import type { Answered, Delivery, Submission, DeliveryResult } from '../proxy/delivery';

/**
 * A Delivery whose submit (and record of an answered event) is the test's own;
 * the operator reads are not part of these tests and refuse.
 */
export function fakeDelivery(submit: (submission: Submission) => Promise<DeliveryResult>, note: (event: Answered) => Promise<void> = async () => {}): Delivery {
  const unused = () => Promise.reject(new Error('not used by this test'));
  return { submit, note, findConversion: unused, get: unused, list: unused, summary: unused, retry: unused, retryDead: unused };
}
