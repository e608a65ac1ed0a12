/**
 * What XState costs per task in this design, part by part: the numbers behind "Where the
 * engine's time goes" in docs/benchmarks.md. `npm run bench:actors` (builds, then runs with
 * `--expose-gc`). Options: `--tasks N` (per pass, default 200,000), `--passes N` (default 3).
 *
 * Task actors are made as the engine makes them on a first admission (started in `running` from
 * the snapshot `task.admit` gives, parented by the supervisor's `tasks` reducer), 100 live at a
 * time (the bench's concurrency), then each is sent a successful `task.outcome` (it ends
 * `completed`, and its done event goes to the reducer). Prints µs per operation, the median of
 * the passes.
 */
import { type AnyActorRef, createActor } from 'xstate';
import { concurrencyLogic } from '../machines/concurrency.logic.js';
import { supervisorMachine } from '../machines/supervisor.machine.js';
import { type TaskMachineInput, taskMachine } from '../machines/task.machine.js';
import { BudgetBook } from '../src/limits/budget-book.js';
import { RateLimiter } from '../src/limits/rate-limiter.js';
import { firstRunningSnapshot } from '../src/runtime/task-snapshots.js';
import { median, parseArgs } from './fixtures.js';

const args = parseArgs(process.argv.slice(2));
const N = Number(args.get('tasks') ?? 200_000);
const PASSES = Number(args.get('passes') ?? 3);
const LIVE = 100;
const gc = (globalThis as { gc?: () => void }).gc;

const noop = () => undefined;
const supervisor = createActor(
  supervisorMachine.provide({
    actions: {
      admit: noop,
      scheduleWake: noop,
      cancelTask: noop,
      pauseTask: noop,
      resumeTask: noop,
      abortRunning: noop,
      finish: noop,
    },
    guards: { isIdle: () => false },
  }),
  {
    input: {
      maxConcurrent: LIVE,
      limiter: RateLimiter.of({ windows: [], models: {} }),
      ledger: BudgetBook.of({}, 'UTC'),
    },
  },
).start();
const tasksParent = supervisor.system.get('tasks') as AnyActorRef;
const concurrency = createActor(concurrencyLogic, { input: { max: LIVE } }).start();

const input = (i: number): TaskMachineInput => ({
  id: `t${i}`,
  at: 0,
  retry: { maxRetries: 3, maxRateLimitRetries: 5, retryDelay: 1, maxRetryDelay: 60 },
});

/** µs per operation of `fn(i)` over N calls. */
function perOp(fn: (i: number) => void): number {
  gc?.();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) fn(i);
  return ((performance.now() - t0) * 1000) / N;
}

function taskActorPass(): { create: number; outcome: number } {
  const live: ReturnType<typeof createActor<typeof taskMachine>>[] = [];
  let create = 0;
  let outcome = 0;
  gc?.();
  for (let done = 0; done < N; done += LIVE) {
    let t = performance.now();
    for (let i = 0; i < LIVE; i++) {
      const actor = createActor(taskMachine, {
        id: `task-t${done + i}`,
        input: undefined as unknown as TaskMachineInput,
        parent: tasksParent,
        snapshot: firstRunningSnapshot(input(done + i), 5),
      });
      actor.start();
      live[i] = actor;
    }
    create += performance.now() - t;
    t = performance.now();
    for (const actor of live) actor.send({ type: 'task.outcome', outcome: { ok: true, at: 6 } });
    outcome += performance.now() - t;
  }
  return { create: (create * 1000) / N, outcome: (outcome * 1000) / N };
}

const rows: Record<string, number[]> = {
  'task actor: create + start in running (from the snapshot task.admit gives)': [],
  'task actor: task.outcome ok → completed (done event to the tasks reducer included)': [],
  'supervisor: one task.submitted step (admit, scheduleWake as no-ops)': [],
  'concurrency reducer: one slot.acquire or slot.release': [],
};
const [create, outcome, step, slot] = Object.values(rows) as number[][];
for (let pass = 0; pass < PASSES; pass++) {
  const actors = taskActorPass();
  create?.push(actors.create);
  outcome?.push(actors.outcome);
  step?.push(perOp(() => supervisor.send({ type: 'task.submitted', taskIds: ['x'] })));
  slot?.push(
    perOp((i) =>
      concurrency.send({ type: i % 2 === 0 ? 'slot.acquire' : 'slot.release', count: 1 }),
    ),
  );
}
console.log(`node ${process.version}, ${N} operations per pass, median of ${PASSES} passes`);
console.log('| part | µs per operation |');
console.log('|---|---:|');
for (const [name, values] of Object.entries(rows)) {
  console.log(`| ${name} | ${median(values).toFixed(2)} |`);
}
