import { ConfigurationError } from '@busway/core';
import { expect, it } from 'vitest';
import { parseMailslotUrl } from '../src/MailslotAddress.js';

it('parses local and domain URLs', () => {
  expect(parseMailslotUrl(new URL('mailslot://orders'))).toEqual({ bus: 'orders', domain: false });
  expect(parseMailslotUrl(new URL('mailslot://orders/'))).toEqual({ bus: 'orders', domain: false });
  expect(parseMailslotUrl(new URL('mailslot://*/orders.v2'))).toEqual({ bus: 'orders.v2', domain: true });
});

it('rejects names that could escape the slot directory or are not slot names', () => {
  for (const url of [
    'mailslot://..',
    'mailslot://*/..',
    'mailslot://a/b',
    'mailslot://*/a/b',
    'mailslot://*/',
    'pipe://x',
    `mailslot://${'x'.repeat(65)}`,
  ]) {
    expect(() => parseMailslotUrl(new URL(url)), url).toThrow(ConfigurationError);
  }
});
