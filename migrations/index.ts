import type { Migration } from 'kysely';
import * as m0001 from './0001_foundation.js';
import * as m0002 from './0002_rules.js';
import * as m0003 from './0003_segments.js';
import * as m0004 from './0004_lists_exclusions.js';
import * as m0005 from './0005_audit_search.js';
import * as m0006 from './0006_hardening.js';
import * as m0007 from './0007_campaigns.js';
import * as m0008 from './0008_crash_recovery.js';
import * as m0009 from './0009_feedback.js';
import * as m0010 from './0010_conversions.js';

/** Every migration, in order. Add each new migration file here; never edit a landed one. */
export const migrations: Record<string, Migration> = {
  '0001_foundation': m0001,
  '0002_rules': m0002,
  '0003_segments': m0003,
  '0004_lists_exclusions': m0004,
  '0005_audit_search': m0005,
  '0006_hardening': m0006,
  '0007_campaigns': m0007,
  '0008_crash_recovery': m0008,
  '0009_feedback': m0009,
  '0010_conversions': m0010,
};
