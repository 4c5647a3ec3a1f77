// Entry of tap-ref.js, loaded by tap.js when the tag has `data-domains`:
// decorates links. (tap-events.js decodes a landing's `tap_ref`.)
import { kernel } from '../kernel';
import { Name } from '../names';

const tap = (window as unknown as { tap: { reference: () => string | null } }).tap;

/**
 * Adds the reference to a followed link whose host is one of `domains`, at
 * click time, so links rendered after load count too. Only the exact hosts
 * listed, never the current one, and only with consent.
 */
const decorate = (event: Event, hosts: string[]) => {
  const link = (event.target as Element).closest('a[href]') as HTMLAnchorElement | null;
  if (!kernel.granted() || !link || !hosts.includes(link.hostname) || link.hostname == location.hostname) return;
  const reference = tap.reference();
  if (!reference) return;
  const url = new URL(link.href);
  url.searchParams.set(Name.REFERENCE_PARAMETER, reference);
  link.href = url.href;
};

/** Capture phase: the reference is in place before a page's own handler or the browser follows the link. */
const links = (domains: string) => {
  const hosts = domains.toLowerCase().split(',').map((host) => host.trim());
  for (const type of ['click', 'auxclick']) {
    document.addEventListener(
      type,
      (event) => {
        // Nothing may throw into the page's own click handling.
        try {
          decorate(event, hosts);
        } catch {}
      },
      true,
    );
  }
};

// tap.js loads this file only with consent; each click checks it again.
if (kernel.data && kernel.data.domains) links(kernel.data.domains);
