import { chmodSync, mkdirSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { InsecureSlotDirectoryError } from '../src/errors.js';
import { SlotDirectory } from '../src/posix/SlotDirectory.js';
import { newBase } from './helpers.js';

const { base, remove } = newBase();
afterAll(remove);

it('creates every level 0700 and owned by the user', () => {
  const dir = SlotDirectory.open('orders', base);
  const uid = process.getuid?.();
  for (const path of [dir.path, join(dir.path, '..'), join(dir.path, '../..')]) {
    const st = statSync(path);
    expect((st.mode & 0o777).toString(8)).toBe('700');
    expect(st.uid).toBe(uid);
  }
});

it('refuses (and does not repair) a directory others can enter, or a symlink', () => {
  const open = join(base, 'open');
  mkdirSync(open);
  mkdirSync(join(open, `busway-${process.getuid?.()}`), { mode: 0o755 });
  chmodSync(join(open, `busway-${process.getuid?.()}`), 0o755);
  expect(() => SlotDirectory.open('orders', open)).toThrow(InsecureSlotDirectoryError);
  expect((statSync(join(open, `busway-${process.getuid?.()}`)).mode & 0o777).toString(8)).toBe('755');

  const linked = join(base, 'linked');
  mkdirSync(linked);
  const target = join(base, 'elsewhere');
  mkdirSync(target, { mode: 0o700 });
  symlinkSync(target, join(linked, `busway-${process.getuid?.()}`));
  expect(() => SlotDirectory.open('orders', linked)).toThrow(/symlink/);
});
