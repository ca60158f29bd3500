import { chmod, lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InsecureSocketDirectoryError } from '../../src/errors.js';
import { defaultSocketDirectory, prepareSecureSocketDirectory } from '../../src/posix/SecureSocketDirectory.js';

describe.runIf(process.platform !== 'win32')('prepareSecureSocketDirectory', () => {
  let base: string;
  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'busway-dir-test-'));
  });
  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('creates a missing directory with mode 0700, owned by the current user', async () => {
    const dir = join(base, 'sockets');
    expect(await prepareSecureSocketDirectory({ directory: dir })).toBe(dir);
    const info = await lstat(dir);
    expect(info.mode & 0o777).toBe(0o700);
    expect(info.uid).toBe(process.getuid?.());
  });

  it('accepts an existing private directory as it is', async () => {
    const dir = join(base, 'ok');
    await mkdir(dir, { mode: 0o700 });
    await expect(prepareSecureSocketDirectory({ directory: dir })).resolves.toBe(dir);
  });

  it.each([0o755, 0o750, 0o701, 0o777])(
    'refuses an existing directory with mode %o rather than repairing it',
    async (mode) => {
      const dir = join(base, 'loose');
      await mkdir(dir);
      await chmod(dir, mode);
      const error = await prepareSecureSocketDirectory({ directory: dir }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InsecureSocketDirectoryError);
      expect((error as InsecureSocketDirectoryError).code).toBe('INSECURE_SOCKET_DIRECTORY');
      // Not silently repaired: the mode is still what it was.
      expect((await lstat(dir)).mode & 0o777).toBe(mode);
    },
  );

  it('refuses a symbolic link, even to a private directory', async () => {
    const target = join(base, 'target');
    await mkdir(target, { mode: 0o700 });
    const link = join(base, 'link');
    await symlink(target, link);
    await expect(prepareSecureSocketDirectory({ directory: link })).rejects.toThrow(/symbolic link/);
  });

  it('refuses a file in place of the directory', async () => {
    const file = join(base, 'file');
    await writeFile(file, '');
    await expect(prepareSecureSocketDirectory({ directory: file })).rejects.toThrow(/not a directory/);
  });

  // Needs root to hand a directory to someone else (CI and the dev machines run as root).
  it.runIf(process.getuid?.() === 0)('refuses a directory owned by another user', async () => {
    const dir = join(base, 'theirs');
    await mkdir(dir, { mode: 0o700 });
    const { chown } = await import('node:fs/promises');
    await chown(dir, 65534, 65534);
    await expect(prepareSecureSocketDirectory({ directory: dir })).rejects.toThrow(/owned by uid 65534/);
  });

  it('defaults to $XDG_RUNTIME_DIR/busway, else a per-user directory under the tmpdir', () => {
    expect(defaultSocketDirectory({ XDG_RUNTIME_DIR: '/run/user/1000' })).toBe('/run/user/1000/busway');
    expect(defaultSocketDirectory({})).toBe(join(tmpdir(), `busway-${process.getuid?.()}`));
  });
});
