/**
 * The lists checked again right before submit (DESIGN.md: suppression is checked twice). A
 * notification is stopped only by the blacklist; marketing by every list of the default policy.
 * Greylist entries count while unexpired, like every list entry.
 */
export function suppressionLists(campaignClass: 'marketing' | 'notification'): string[] {
  return campaignClass === 'notification' ? ['blacklist'] : ['blacklist', 'complaint', 'opt_out', 'dnd', 'greylist'];
}
