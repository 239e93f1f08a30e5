import type { ContactHistoryMirror } from './contact-history.mirror.js';
import type { ListMirror, MirrorPass } from '../lists/list.mirror.js';
import type { FeedbackMirror, FeedbackMirrorReport } from '../feedback/feedback.mirror.js';

export interface MirrorReport {
  lists: MirrorPass;
  contactHistory: MirrorPass;
  /** Only in a pass that asked for it (`sync({ feedback: true })`). */
  feedback?: FeedbackMirrorReport;
}

export interface MirrorScope {
  /**
   * Also the ledger outcomes, campaigns, conversions and replies (the reports' inputs). Opt-in:
   * while a campaign is sending, its ledger check scans its partition (~0.15 s per million rows),
   * a cost previews and targeting, which never read those copies, should not pay.
   */
  feedback?: boolean;
}

/** What segments, targeting and reports call before any query that reads mirrored tables. */
export interface WarehouseMirror {
  sync(scope?: MirrorScope): Promise<MirrorReport>;
}

/**
 * Runs the list, contact-history (and, when asked, feedback) mirrors one pass at a time. A caller
 * always gets a pass that started after it called (so it sees its own writes); callers arriving
 * while a pass is waiting to start share that pass instead of queueing another (a pass waiting
 * without the feedback mirrors is widened when a caller needs them).
 */
export class MirrorCoordinator implements WarehouseMirror {
  private running: Promise<MirrorReport> | undefined;
  private queued: Promise<MirrorReport> | undefined;
  private queuedFeedback = false;

  constructor(
    private readonly lists: ListMirror,
    private readonly contactHistory: ContactHistoryMirror,
    private readonly feedback?: FeedbackMirror,
  ) {}

  sync(scope: MirrorScope = {}): Promise<MirrorReport> {
    if (scope.feedback) this.queuedFeedback = true;
    if (this.queued) return this.queued;
    const previous = this.running ?? Promise.resolve(undefined);
    const pass: Promise<MirrorReport> = previous
      .catch(() => undefined)
      .then(async () => {
        this.queued = undefined;
        this.running = pass;
        const withFeedback = this.queuedFeedback;
        this.queuedFeedback = false;
        try {
          const report: MirrorReport = { lists: await this.lists.sync(), contactHistory: await this.contactHistory.sync() };
          if (withFeedback && this.feedback) report.feedback = await this.feedback.sync();
          return report;
        } finally {
          if (this.running === pass) this.running = undefined;
        }
      });
    this.queued = pass;
    return pass;
  }
}
