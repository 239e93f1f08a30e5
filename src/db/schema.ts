import type { ColumnType, Generated, JSONColumnType } from 'kysely';

/**
 * Table types of the Postgres system of record. One interface per table, named for the table;
 * each feature's migration adds its tables here.
 */
export interface Database {
  imports: ImportsTable;
  audit_log: AuditLogTable;
  api_keys: ApiKeysTable;
  segments: SegmentsTable;
  lists: ListsTable;
  list_entries: ListEntriesTable;
  exclusion_policies: ExclusionPoliciesTable;
  exclusion_policy_versions: ExclusionPolicyVersionsTable;
  contact_history: ContactHistoryTable;
  targeting_runs: TargetingRunsTable;
  rules: RulesTable;
  rule_versions: RuleVersionsTable;
  gateways: GatewaysTable;
  campaigns: CampaignsTable;
  message_ledger: MessageLedgerTable;
  message_parts: MessagePartsTable;
  gateway_receipts: GatewayReceiptsTable;
  mo_messages: MoMessagesTable;
  frequency_caps: FrequencyCapsTable;
  feedback_dead_letters: FeedbackDeadLettersTable;
  campaign_replies: CampaignRepliesTable;
  conversions: ConversionsTable;
}

type CreatedAt = ColumnType<Date, Date | string | undefined, never>;

export interface ImportsTable {
  id: Generated<string>;
  dataset: string;
  format: string;
  mode: string;
  source: string;
  /** `running` from before the file is read; `interrupted` when a start found it still running. */
  status: 'running' | 'succeeded' | 'failed' | 'interrupted';
  rows_loaded: number;
  rows_rejected: number;
  errors: JSONColumnType<Array<{ path: string; message: string }>>;
  snapshot_version: number | null;
  duration_ms: number;
  created_by: string;
  created_at: CreatedAt;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: CreatedAt;
  actor: string;
  actor_role: string;
  action: string;
  target_type: string;
  target_id: string | null;
  ip: string | null;
  request_id: string | null;
  before: unknown;
  after: unknown;
  details: unknown;
}

export interface ApiKeysTable {
  id: Generated<string>;
  name: string;
  role: 'analyst' | 'operator' | 'scheduler' | 'admin';
  prefix: string;
  key_hash: string;
  created_by: string;
  created_at: CreatedAt;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
}

export interface SegmentsTable {
  id: Generated<string>;
  name: string;
  kind: 'condition' | 'upload';
  condition: ColumnType<unknown, string | null, string | null>;
  status: 'building' | 'ready' | 'failed';
  member_count: number | null;
  snapshot_versions: JSONColumnType<Record<string, number>, string | undefined, string>;
  rule_refs: ColumnType<string[], string[] | undefined, string[]>;
  segment_refs: ColumnType<string[], string[] | undefined, string[]>;
  list_refs: ColumnType<string[], string[] | undefined, string[]>;
  upload_report: ColumnType<unknown, string | null, string | null>;
  error: string | null;
  created_by: string;
  created_at: CreatedAt;
  refreshed_at: Date | null;
}

export interface ListsTable {
  name: string;
  kind: 'system' | 'custom';
  label: string;
  description: string | null;
  default_expiry_days: number | null;
  created_by: string;
  created_at: CreatedAt;
}

export interface ListEntriesTable {
  id: Generated<number>;
  list_name: string;
  msisdn: string;
  reason: string | null;
  source: 'api' | 'upload' | 'reply' | 'import';
  created_by: string;
  created_at: CreatedAt;
  updated_by: string;
  updated_at: Generated<Date>;
  expires_at: Date | null;
  deleted_at: Date | null;
  deleted_by: string | null;
}

export interface ExclusionPoliciesTable {
  name: string;
  description: string | null;
  current_version: number;
  created_by: string;
  created_at: CreatedAt;
  updated_by: string;
  updated_at: Generated<Date>;
}

export interface ExclusionPolicyVersionsTable {
  policy_name: string;
  version: number;
  description: string | null;
  steps: JSONColumnType<unknown[]>;
  /** The rules the condition steps resolved to when this version was saved (migration 0006). */
  rule_pins: ColumnType<Array<{ name: string; version: number; condition: unknown }>, string | undefined, string>;
  created_by: string;
  created_at: CreatedAt;
}

export interface ContactHistoryTable {
  id: Generated<number>;
  customer_id: number;
  campaign_id: string;
  category: string | null;
  sent_at: Date;
  recorded_at: Generated<Date>;
}

export interface TargetingRunsTable {
  id: string;
  segment_id: string;
  campaign_id: string | null;
  policy_name: string;
  policy_version: number;
  steps: JSONColumnType<unknown[]>;
  product_id: string | null;
  category: string | null;
  control_percent: number;
  seed: string;
  as_of: Date;
  funnel: JSONColumnType<object[]>;
  segment_count: number;
  control_count: number;
  target_count: number;
  created_by: string;
  created_at: CreatedAt;
  elapsed_ms: number;
}

export interface RulesTable {
  name: string;
  description: string;
  /** jsonb: written as JSON text, read back parsed. */
  condition: ColumnType<unknown, string, string>;
  version: number;
  source: 'library' | 'api';
  rule_refs: string[];
  segment_refs: string[];
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
  updated_by: string;
}

export interface RuleVersionsTable {
  id: Generated<number>;
  name: string;
  version: number;
  change: 'create' | 'update' | 'delete';
  source: 'library' | 'api';
  description: string;
  condition: ColumnType<unknown, string, never>;
  changed_by: string;
  changed_at: CreatedAt;
}

export type CampaignStatus = 'draft' | 'targeted' | 'approved' | 'scheduled' | 'sending' | 'paused' | 'completed' | 'cancelled' | 'failed';
export type LedgerStatus =
  | 'control'
  | 'queued'
  | 'sending'
  | 'submitted'
  | 'delivered'
  | 'failed'
  | 'suppressed'
  | 'capped'
  | 'unknown'
  | 'cancelled'
  | 'expired';

export interface GatewaysTable {
  name: string;
  protocol: 'smpp' | 'cmpp2' | 'cmpp3' | 'kannel' | 'mm7';
  settings: JSONColumnType<Record<string, unknown>>;
  rate_per_second: number;
  simulator: Generated<boolean>;
  created_by: string;
  created_at: CreatedAt;
  updated_by: string;
  updated_at: Generated<Date>;
}

export interface CampaignsTable {
  id: Generated<string>;
  name: string;
  category: string | null;
  product_id: string | null;
  class: 'marketing' | 'notification';
  segment_id: string;
  exclusion_policy: string;
  channel: 'sms' | 'mms';
  message: JSONColumnType<Record<string, unknown>>;
  schedule: JSONColumnType<Record<string, unknown>>;
  throttle: JSONColumnType<Record<string, unknown>>;
  control_percent: ColumnType<string, number | string, number | string>;
  gateway: string;
  status: CampaignStatus;
  status_reason: string | null;
  targeting_run_id: string | null;
  approved_by: string | null;
  approved_at: Date | null;
  approval_note: string | null;
  launched_by: string | null;
  launched_at: Date | null;
  send_at: Date | null;
  completed_at: Date | null;
  batch_size: number | null;
  target_count: number | null;
  control_count: number | null;
  created_by: string;
  created_at: CreatedAt;
  updated_by: string;
  updated_at: Generated<Date>;
  /** Set once a campaign that stopped sending has had its overdue messages expired. */
  receipts_closed_at: Date | null;
}

export interface MessageLedgerTable {
  campaign_id: string;
  seq: number;
  customer_id: ColumnType<number, number | string, never>;
  msisdn: string;
  is_control: boolean;
  status: LedgerStatus;
  vars: unknown;
  parts: number | null;
  error_code: string | null;
  claimed_at: Date | null;
  submitted_at: Date | null;
  final_at: Date | null;
}

export interface MessagePartsTable {
  gateway: string;
  gateway_message_id: string;
  campaign_id: string;
  seq: number;
  part: number;
  submitted_at: Date;
}

export interface GatewayReceiptsTable {
  id: Generated<string>;
  gateway: string;
  gateway_message_id: string;
  status: string;
  error_code: string | null;
  done_at: Date | null;
  received_at: Date;
  /** Processed: applied to the ledger, or moved to the dead letters. */
  applied_at: Date | null;
  /** A receipt whose message id is not known yet is tried again from then on. */
  retry_at: Date | null;
}

export interface MoMessagesTable {
  id: Generated<string>;
  gateway: string;
  msisdn: string;
  to_addr: string;
  text: string;
  received_at: Date;
  processed_at: Date | null;
}

export interface FrequencyCapsTable {
  msisdn: string;
  day: string;
  sent: number;
}

export interface FeedbackDeadLettersTable {
  receipt_id: number;
  gateway: string;
  gateway_message_id: string;
  status: string;
  error_code: string | null;
  done_at: Date | null;
  received_at: Date;
  reason: string;
  dead_at: CreatedAt;
}

export type ReplyKind = 'opt_out' | 'start' | 'response';

export interface CampaignRepliesTable {
  mo_id: number;
  campaign_id: string | null;
  msisdn: string;
  customer_id: ColumnType<number | null, number | string | null, never>;
  gateway: string;
  text: string;
  normalised: string;
  kind: ReplyKind;
  received_at: Date;
  recorded_at: CreatedAt;
}

/** Orders from CRM/BOSS; attribution to campaigns is computed by the reports, not stored. */
export interface ConversionsTable {
  order_id: string;
  msisdn: string | null;
  customer_id: ColumnType<number | null, number | string | null, never>;
  product_id: string;
  ordered_at: ColumnType<Date, Date | string, never>;
  revenue: number | null;
  /** `api` or `upload:<file name>`. */
  source: string;
  created_at: CreatedAt;
}
