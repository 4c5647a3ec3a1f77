import { data } from './config';

/** True, false, or undefined while `data-consent="required"` waits for an answer. */
export let granted: boolean | undefined = data.consent != 'required' || undefined;

let answered: () => void;
/** Settles at the first answer to consent, or at once when none is required; calls wait for it, in order. */
export const consentAnswer = new Promise<void>((resolve) => {
  answered = resolve;
});
if (granted) answered!();

/** Records the answer; true when it grants consent for the first time, so the landing is read now. */
export const answer = (yes: boolean) => {
  const first = yes && !granted;
  granted = !!yes;
  answered();
  return first;
};
