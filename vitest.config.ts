import { defineConfig } from 'vitest/config';

/**
 * One vitest project per package. Files named `*.win32.test.ts` exercise the Win32 API: they are
 * run by `scripts/win32/run-tests.mjs` (`pnpm test:win32`), which sets BUSWAY_WIN32_SUITE=1 and
 * runs them under the Windows build of Node.js (natively on Windows, under Wine on Linux). Every
 * other run leaves them out, so no platform runs them twice.
 */
const packages = ['core', 'win32', 'transport-pipe', 'transport-mmf', 'transport-mailslot', 'transport-socket'];
const win32Only = process.env.BUSWAY_WIN32_SUITE === '1';

export default defineConfig({
  resolve: { conditions: ['@busway/source'] },
  test: {
    projects: packages.map((name) => ({
      extends: true,
      test: {
        name,
        root: `packages/${name}`,
        include: win32Only ? ['**/*.win32.test.ts'] : ['**/*.test.ts'],
        exclude: ['**/node_modules/**', '**/dist/**', ...(win32Only ? [] : ['**/*.win32.test.ts'])],
        testTimeout: 30_000,
        hookTimeout: 30_000,
      },
    })),
  },
});
