import { expect, it } from 'vitest';
it('has a dom', () => { expect(document.cookie).toBe(''); });
