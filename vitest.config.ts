import { defineConfig } from 'vitest/config';

/**
 * Tests that drive a real browser run alone, after the rest (`groupOrder`): beside them on 2
 * cores, the real-time end-to-end tests (learned limits, CLI races) saw their timing shift.
 */
const BROWSER_TESTS = ['test/dashboard/browser.e2e.test.ts'];

export const shared = {
  // Fails a test that makes Node or XState print a warning (CONTRIBUTING.md).
  setupFiles: ['test/setup/no-warnings.ts'],
  environment: 'node',
  pool: 'forks' as const,
  maxWorkers: 2,
  testTimeout: 20_000,
};

export default defineConfig({
  test: {
    // In CI, also write a JSON report so .ci/run can print a plain "N passed, N failed" line.
    reporters: process.env.CI
      ? ['default', ['json', { outputFile: 'vitest-report.json' }]]
      : ['default'],
    projects: [
      {
        test: {
          ...shared,
          name: 'node',
          include: ['test/**/*.test.ts'],
          exclude: BROWSER_TESTS,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          ...shared,
          name: 'browser',
          include: BROWSER_TESTS,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
