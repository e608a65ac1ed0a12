/**
 * The supervisor's actions and their effects. An action only queues what it asks for (admit,
 * cancel a task, …); that is carried out right after the supervisor's step, in the same tick. So
 * effects that start task actors or send to the limiter actors never run inside another actor's
 * transition.
 */

import type { SupervisorEvent, supervisorMachine } from '../../machines/supervisor.machine.js';
import type { AdmissionLoop } from './admission-loop.js';
import type { Lifecycle } from './lifecycle.js';
import type { TaskRunner } from './running.js';
import type { TaskControl } from './task-control.js';

/** The supervisor's action implementations, as `.provide()` takes them. */
type SupervisorActions = NonNullable<Parameters<typeof supervisorMachine.provide>[0]['actions']>;

/** The parts that carry out what the supervisor's actions ask for. */
export interface EffectTargets {
  admission: Pick<AdmissionLoop, 'admit' | 'scheduleWake'>;
  control: Pick<TaskControl, 'cancelNow' | 'pauseNow' | 'resumeNow'>;
  runner: Pick<TaskRunner, 'running'>;
  lifecycle: Pick<Lifecycle, 'finishStop'>;
}

export class SupervisorEffects {
  private readonly queue: Array<() => void> = [];
  private running = false;

  /** @param send sends an event to the supervisor (made after this). */
  constructor(private readonly send: (event: SupervisorEvent) => void) {}

  /** Sends an event to the supervisor, then carries out the effects its actions asked for. */
  readonly dispatch = (event: SupervisorEvent): void => {
    this.send(event);
    this.run();
  };

  /** Carries out the queued effects in order, and those they queue; one run at a time. */
  run(): void {
    if (this.running) return;
    this.running = true;
    try {
      for (let i = 0; i < this.queue.length; i++) (this.queue[i] as () => void)();
    } finally {
      this.queue.length = 0;
      this.running = false;
    }
  }

  /** Queues an effect, carried out once the supervisor's step is done. */
  private defer(effect: () => void): void {
    this.queue.push(effect);
  }

  /** The supervisor's actions (for `.provide()`): each queues its effect. */
  actions(targets: EffectTargets): SupervisorActions {
    const { admission, control, runner, lifecycle } = targets;
    // `admit` and `scheduleWake` run at nearly every step: their effects are made once.
    const admit = () => admission.admit();
    const scheduleWake = () => admission.scheduleWake();
    return {
      admit: () => this.defer(admit),
      scheduleWake: () => this.defer(scheduleWake),
      cancelTask: ({ event }) => {
        if (event.type === 'task.cancel') this.defer(() => control.cancelNow(event.taskId));
      },
      pauseTask: ({ event }) => {
        if (event.type === 'task.pause') this.defer(() => control.pauseNow(event.taskId));
      },
      resumeTask: ({ event }) => {
        if (event.type === 'task.resume') this.defer(() => control.resumeNow(event.taskId));
      },
      abortRunning: () =>
        this.defer(() => {
          for (const task of runner.running.values()) control.cancelNow(task.record.id);
        }),
      finish: () => this.defer(() => lifecycle.finishStop()),
    };
  }
}
