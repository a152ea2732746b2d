// Shapes of the admin API's answers, as far as the console reads them.

export type Role = 'viewer' | 'operator' | 'admin'

export interface SessionUser {
  id: number
  username: string
  role: Role
}

export interface Session {
  access_token: string
  token_type: string
  expires_in: number
  user: SessionUser
}

export interface Page<T> {
  items: T[]
  next_cursor?: string
}

export type MessageStatus = 'pending' | 'processing' | 'sent' | 'success' | 'failed' | 'cancelled'

export interface AdminMessage {
  task_id: string
  app_id: string
  channel_id: number
  message_type: string
  receiver: string
  subject: string
  content: string
  status: MessageStatus
  callback_status: string
  account_id: number | null
  provider_message_id: string
  attempt_count: number
  max_attempts: number
  last_error: string
  priority: string
  batch_id: string
  redriven_to: string
  redriven_from: string
  created_at: string
  updated_at: string
  scheduled_at: string | null
  finished_at: string | null
  expires_at: string | null
}

export interface MessageEvent {
  seq: number
  kind: string
  status: string
  account_id: number | null
  code: string
  detail: string
  created_at: string
}

export interface MessageDetail extends AdminMessage {
  timeline: MessageEvent[]
  temporal_url: string
}

export interface MessageAction {
  task_id: string
  status: string
  resent_as?: string
}

export interface Redrive {
  id: string
  filter: Record<string, unknown>
  account_id: number | null
  status: 'running' | 'paused' | 'cancelled' | 'done'
  matched: number
  resent: number
  skipped: number
  failed: number
  created_by: string
  created_at: string
  updated_at: string
}

// A batch's status; "legacy" marks one accepted before batches ran as one
// workflow, whose messages each run on their own.
export type BatchStatus = 'running' | 'paused' | 'cancelled' | 'finished' | 'legacy'

export interface BatchCounts {
  pending: number
  processing: number
  sent: number
  success: number
  failed: number
  cancelled: number
}

export interface Batch {
  id: string
  app_id: string
  channel_id: number
  message_type: string
  status: BatchStatus
  // Receivers in the request, accepted (the batch's members) and rejected.
  total_count: number
  success_count: number
  failed_count: number
  // Members by status, and those in a final status.
  counts: BatchCounts
  finished: number
  scheduled_at: string | null
  created_at: string
  updated_at: string | null
  finished_at: string | null
  temporal_url: string
}

export type BatchAction = 'pause' | 'resume' | 'cancel'

export interface StatsLatency {
  count: number
  p50_ms: number | null
  p95_ms: number | null
}

export interface StatsFigures {
  accepted: number
  pending: number
  processing: number
  sent: number
  success: number
  failed: number
  cancelled: number
  success_rate: number | null
  sms_segments: number
  final_latency: StatsLatency
  receipt_latency: StatsLatency
}

export interface StatsSeries {
  key: string
  name?: string
  total: StatsFigures
  points: (StatsFigures & { start: string })[]
}

export interface StatsReport {
  from: string
  to: string
  interval: 'minute' | 'hour' | 'day'
  group_by?: string
  time_zone: string
  series: StatsSeries[]
}

export interface Breaker {
  account_id: number
  account_name: string
  provider_kind: string
  state: 'closed' | 'open' | 'half_open'
  since: string
  failures: number
  forced: '' | 'open' | 'closed'
}

export interface BreakerTransition {
  at: string
  from: string
  to: string
  forced: boolean
  actor: string
  reason: string
}

export interface QuotaUsage {
  app_id: string
  period: string
  channel_id: number
  limit: number
  reserved: number
  committed: number
  remaining: number
  resets_at: string
}

export interface QuietHours {
  start?: string
  end?: string
  time_zone?: string
}

export interface ReceiverCaps {
  per_minute?: number
  per_hour?: number
  per_day?: number
}

export interface AppQuota {
  daily?: number
  monthly?: number
  channels?: Record<string, { daily?: number; monthly?: number }>
}

export interface App {
  id: string
  name?: string
  secret?: string
  enabled?: boolean
  ip_allowlist?: string[]
  rate_limit_per_second?: number
  requests_per_minute?: number
  burst?: number
  messages_per_minute?: number
  status_callback_url?: string
  callback_secret?: string
  quiet_hours?: QuietHours
  time_zone?: string
  quota?: AppQuota | null
  grants?: string[] | null
  version?: number
  created_at?: string
  updated_at?: string
}

export interface PoolMember {
  account: string
  weight: number | null
}

export interface Channel {
  id: number
  name: string
  type: string
  template?: string
  signature_names?: string[]
  signature_required?: boolean
  enabled?: boolean
  receipt_timeout_seconds?: number
  max_attempts?: number
  receiver_caps?: ReceiverCaps
  allowed_countries?: string[]
  pool?: PoolMember[]
  default_ttl_seconds?: number
  quiet_hours?: QuietHours
  version?: number
  created_at?: string
  updated_at?: string
}

export interface BreakerSettings {
  min_failures?: number
  failure_ratio?: number
  window_seconds?: number
  cool_down_seconds?: number
  probes?: number
  close_after?: number
  receipt_failure_ratio?: number
}

export interface Account {
  id: number
  name: string
  kind: string
  config?: Record<string, unknown>
  weight?: number | null
  enabled?: boolean | null
  rate_limit_per_minute?: number
  breaker?: BreakerSettings | null
  countries?: string[]
  callback_token?: string
  version?: number
  created_at?: string
  updated_at?: string
}

export interface Mapping {
  account: string
  provider_code?: string
  param_order?: string[]
  param_names?: Record<string, string>
}

export interface Template {
  id: number
  name: string
  content_type?: string
  subject?: string
  content?: string
  variables?: string[]
  description?: string
  kind?: '' | 'verification'
  receiver_caps?: ReceiverCaps
  mappings?: Mapping[]
  ttl_seconds?: number
  critical?: boolean
  version?: number
  created_at?: string
  updated_at?: string
}

export interface TemplatePreview {
  subject: string
  content: string
  missing?: string[]
  unknown?: string[]
}

export type RuleAction = 'retry' | 'switch' | 'fail' | 'alert'

export interface Rule {
  id: number
  name: string
  scene: 'send_failure' | 'callback_failure'
  priority?: number
  provider_kind?: string
  message_type?: string
  error_codes?: string[]
  error_keywords?: string[]
  action: RuleAction
  max_retry?: number
  delay_seconds?: number
  backoff_rate?: number
  then_action?: string
  enabled?: boolean | null
  version?: number
  created_at?: string
  updated_at?: string
}

export interface DryRunChange {
  from: string
  to: string
  count: number
  summary: string
}

export interface DryRunSample {
  task_id?: string
  seq?: number
  class?: string
  code?: string
  provider_kind?: string
  from?: string
  from_rule?: string
  to?: string
  to_rule?: string
  to_reason?: string
}

export interface DryRunResult {
  considered: number
  changed: number
  changes: DryRunChange[]
  samples: DryRunSample[]
}

export interface User {
  id: number
  username: string
  role: Role
  disabled: boolean
  version: number
  created_at: string
  updated_at: string
}

export interface AuditRecord {
  id: number
  at: string
  actor: string
  action: string
  object_type: string
  object_id: string
  diff: Record<string, unknown>
  client_ip: string
}
