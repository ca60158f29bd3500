import { defineConfig } from 'vitest/config';

/**
 * One vitest project per package. Files named `*.win32.test.ts` exercise the Win32 API and run
 * only under the Windows build of Node.js (natively, or under Wine through `pnpm test:win32`).
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
        exclude: ['**/node_modules/**', '**/dist/**', ...(win32Only || process.platform === 'win32' ? [] : ['**/*.win32.test.ts'])],
        testTimeout: 30_000,
        hookTimeout: 30_000,
      },
    })),
  },
});
