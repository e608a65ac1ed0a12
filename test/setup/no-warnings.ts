/**
 * A `setupFiles` entry of vitest.config.ts: a test file fails when one of its tests makes Node
 * emit a process warning (`process.on('warning')`: `MaxListenersExceededWarning`, a
 * `DeprecationWarning`…) or makes XState warn that an event "was sent to stopped actor" (XState's
 * development build, which vitest loads under the `development` condition, says it with
 * `console.warn`). `npm test` then prints no warnings, and stays so (CONTRIBUTING.md).
 *
 * Anything else a test prints (a logger under test, `console.warn` of its own, stderr) is left
 * alone. A warning seen while a test runs fails that test (`afterEach`), naming it and the file;
 * one seen outside any test (while the file loads, or after its last test) fails the file
 * (`afterAll`). `test/setup/no-warnings.test.ts` runs vitest on fixtures that trip it.
 */

import { relative } from 'node:path';
import { afterAll, afterEach, expect } from 'vitest';

/** XState's warning (`Actor#send` on a stopped actor, development build). */
const STOPPED_ACTOR = /^Event ".*" was sent to stopped actor /;

interface Seen {
  /** `file > describe > test`, or the file alone outside a test. */
  where: string;
  /** Whether a test was running when it came. */
  inTest: boolean;
  what: string;
}

const seen: Seen[] = [];

function currentPlace(): { file: string; test: string | undefined } {
  const state = expect.getState();
  const file =
    state.testPath === undefined ? '(unknown file)' : relative(process.cwd(), state.testPath);
  return { file, test: state.currentTestName };
}

function record(what: string): void {
  const { file, test } = currentPlace();
  seen.push({
    where: test === undefined ? file : `${file} > ${test}`,
    inTest: test !== undefined,
    what,
  });
}

const onWarning = (warning: Error): void => {
  record(`${warning.name}: ${warning.message.split('\n')[0]}`);
};
process.on('warning', onWarning);

const consoleWarn = console.warn;
console.warn = function warnGuarded(this: Console, ...args: unknown[]): void {
  const first = args[0];
  if (typeof first === 'string' && STOPPED_ACTOR.test(first)) {
    record(`XState: ${first.split('\n')[0]}`);
  }
  Reflect.apply(consoleWarn, this, args);
};

/** Fails with the warnings recorded so far that `which` picks, and forgets them. */
function failOnWarnings(which: (seen: Seen) => boolean): void {
  const picked = seen.filter(which);
  if (picked.length === 0) return;
  seen.splice(0, seen.length, ...seen.filter((w) => !which(w)));
  const message = `${picked.length === 1 ? 'a warning was' : `${picked.length} warnings were`} printed (npm test must print none; see CONTRIBUTING.md):\n${picked.map((w) => `  ${w.where}: ${w.what}`).join('\n')}`;
  const error = new Error(message);
  error.stack = `Error: ${message}`; // where the guard threw says nothing
  throw error;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

// Node emits a process warning on the next tick: each check waits for it first.
afterEach(async () => {
  await nextTurn();
  failOnWarnings((w) => w.inTest);
});

afterAll(async () => {
  await nextTurn();
  process.off('warning', onWarning);
  console.warn = consoleWarn;
  failOnWarnings(() => true);
});
