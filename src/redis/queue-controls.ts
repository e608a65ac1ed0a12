/**
 * What the queue's control channel has told one worker (see queue-worker.ts): the cancels asked
 * for lately (a job of such an id is cancelled, not run, even one that was on its way here when
 * the cancel came), and whether the queue is paused, with a count of the pause and resume
 * messages heard (a pause read from Redis at start must not undo a resume heard meanwhile).
 */

/** The control messages of the queue's channel. */
export type ControlMessage = { t: 'cancel'; id: string } | { t: 'pause' } | { t: 'resume' };

/** At most this many recent cancel requests are remembered (for a job being fetched meanwhile). */
const RECENT_CANCELS = 10_000;

export class QueueControls {
  private readonly cancels = new Set<string>();
  /** Whether the queue is paused, as last heard (or read at start). */
  paused = false;
  /** Pause and resume messages heard so far. */
  heard = 0;

  /** Takes in one message of the channel: what it asks for, or `undefined` for one not known. */
  read(message: string): ControlMessage | undefined {
    let parsed: ControlMessage;
    try {
      parsed = JSON.parse(message) as ControlMessage;
    } catch {
      return undefined;
    }
    switch (parsed?.t) {
      case 'cancel':
        if (this.cancels.size >= RECENT_CANCELS) this.cancels.clear();
        this.cancels.add(parsed.id);
        return parsed;
      case 'pause':
      case 'resume':
        this.heard++;
        this.paused = parsed.t === 'pause';
        return parsed;
      default:
        return undefined;
    }
  }

  /** Whether a cancel of task `id` was heard lately. */
  cancelled(id: string): boolean {
    return this.cancels.has(id);
  }
}
