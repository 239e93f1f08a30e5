import type { CampaignView } from '../campaigns/campaign.schemas.js';
import { printProgress } from '../campaigns/campaign.print.js';
import type { Container } from '../container.js';

export interface DemoReportInput {
  container: Container;
  /** The campaign as it completed, with its progress. */
  campaign: CampaignView;
}

/**
 * The last step of `npm run demo`: what the campaign achieved. Today that is the send summary
 * from the ledger. The effectiveness work (receipts → delivered/failed, replies and opt-outs,
 * conversions and uplift against the control group; DESIGN.md "Feedback and effectiveness")
 * extends this function: wait for the simulator's receipts, feed some replies and orders, and
 * print the campaign report here.
 */
export async function printReport({ campaign }: DemoReportInput): Promise<void> {
  if (!campaign.progress) throw new Error(`campaign ${campaign.id} has no progress: it was never launched`);
  console.log('send counts (each target recipient is in exactly one):');
  printProgress(campaign.progress);
}
