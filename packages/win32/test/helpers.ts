import { randomBytes } from 'node:crypto';

/** A name no other test run (or parallel suite) uses. */
export function uniqueName(prefix: string): string {
  return `busway-test-${prefix}-${process.pid}-${randomBytes(4).toString('hex')}`;
}
