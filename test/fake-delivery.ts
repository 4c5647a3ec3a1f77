import type { Delivery, Submission, DeliveryResult } from '../proxy/delivery';

/** A Delivery whose submit is the test's own; the operator reads are not part of these tests and refuse. */
export function fakeDelivery(submit: (submission: Submission) => Promise<DeliveryResult>): Delivery {
  const unused = () => Promise.reject(new Error('not used by this test'));
  return { submit, findConversion: unused, get: unused, list: unused, summary: unused, retry: unused };
}
