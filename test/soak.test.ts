import { describe, expect, it } from 'vitest';
import { runSoak } from '../bench/soak.js';

/**
 * The short version of the virtual-time soak (`npm run bench:soak` runs 24 hours): two hours of
 * traffic with bursts, a provider's 429s, 5 % of calls failing, the settings changed every hour
 * and the budget's day rolling over in New York, every guarantee checked as it happens.
 */
describe('the virtual-time soak, two hours of it', () => {
  it('keeps every limit, ends every task exactly once, leaves nothing waiting', async () => {
    const report = await runSoak({ hours: 2, tasksPerHour: 2_000, seed: 7 });
    expect(report.violations).toEqual([]);
    expect(report.tasks).toBeGreaterThan(3_000);
    expect(report.completed + report.failed).toBe(report.tasks);
    // The traffic did what it is for: the provider refused some, failed some, settings changed.
    expect(report.refused429).toBeGreaterThan(0);
    expect(report.failed500).toBeGreaterThan(0);
    expect(report.changes).toBe(1);
  }, 60_000);
});
