import type { ContactHistoryMirror } from './contact-history.mirror.js';
import type { ListMirror, MirrorPass } from '../lists/list.mirror.js';

export interface MirrorReport {
  lists: MirrorPass;
  contactHistory: MirrorPass;
}

/** What segments and targeting call before any query that reads lists or contact history. */
export interface WarehouseMirror {
  sync(): Promise<MirrorReport>;
}

/**
 * Runs the list and contact-history mirrors one pass at a time. A caller always gets a pass that
 * started after it called (so it sees its own writes); callers arriving while a pass is waiting to
 * start share that pass instead of queueing another.
 */
export class MirrorCoordinator implements WarehouseMirror {
  private running: Promise<MirrorReport> | undefined;
  private queued: Promise<MirrorReport> | undefined;

  constructor(
    private readonly lists: ListMirror,
    private readonly contactHistory: ContactHistoryMirror,
  ) {}

  sync(): Promise<MirrorReport> {
    if (this.queued) return this.queued;
    const previous = this.running ?? Promise.resolve(undefined);
    const pass: Promise<MirrorReport> = previous
      .catch(() => undefined)
      .then(async () => {
        this.queued = undefined;
        this.running = pass;
        try {
          return { lists: await this.lists.sync(), contactHistory: await this.contactHistory.sync() };
        } finally {
          if (this.running === pass) this.running = undefined;
        }
      });
    this.queued = pass;
    return pass;
  }
}
