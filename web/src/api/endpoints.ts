// The admin API routes the console calls, typed.
import { get, post, request, type QueryValue } from './client'
import type {
  Account,
  AdminMessage,
  App,
  AuditRecord,
  Batch,
  BatchAction,
  Breaker,
  BreakerTransition,
  Channel,
  DryRunResult,
  MessageAction,
  MessageDetail,
  Page,
  QuotaUsage,
  Redrive,
  Rule,
  StatsReport,
  Template,
  TemplatePreview,
  User,
} from './types'

export interface Versioned<T> {
  item: T
  etag: string
}

export const listMessages = (query: Record<string, QueryValue>) => get<Page<AdminMessage>>('/messages', query)
export const getMessage = (id: string) => get<MessageDetail>(`/messages/${encodeURIComponent(id)}`)
export const cancelMessage = (id: string) => post<MessageAction>(`/messages/${encodeURIComponent(id)}/cancel`)
export const resendMessage = (id: string) => post<MessageAction>(`/messages/${encodeURIComponent(id)}/resend`)
export const startRedrive = (filter: Record<string, string>, perSecond?: number) =>
  post<Redrive>('/messages/redrive', perSecond ? { filter, per_second: perSecond } : { filter })
export const getRedrive = (id: string) => get<Redrive>(`/redrives/${encodeURIComponent(id)}`)
export const redriveAction = (id: string, action: 'pause' | 'resume' | 'cancel') =>
  post<Redrive>(`/redrives/${encodeURIComponent(id)}/${action}`)

export const listBatches = (query: Record<string, QueryValue>) => get<Page<Batch>>('/batches', query)
export const getBatch = (id: string) => get<Batch>(`/batches/${encodeURIComponent(id)}`)
export const batchAction = (id: string, action: BatchAction) => post<Batch>(`/batches/${encodeURIComponent(id)}/${action}`)

export const getStats = (query: Record<string, QueryValue>) => get<StatsReport>('/stats', query)
export const listBreakers = () => get<{ items: Breaker[] }>('/breakers')
export const breakerHistory = (accountId: number) =>
  get<{ items: BreakerTransition[] }>(`/breakers/${accountId}/history`)
export const forceBreaker = (accountId: number, order: 'open' | 'closed' | 'auto', reason: string) =>
  post<unknown>(`/breakers/${accountId}/force`, { order, reason })
export const listQuotas = (appId?: string) => get<{ items: QuotaUsage[] }>('/quotas', { app_id: appId })

// Reads every page of a list; configuration lists are short.
export async function listAll<T>(path: string): Promise<T[]> {
  const out: T[] = []
  let cursor = ''
  for (let i = 0; i < 50; i++) {
    const page = await get<Page<T>>(path, { limit: 500, cursor })
    out.push(...page.items)
    if (!page.next_cursor || page.items.length === 0) break
    cursor = page.next_cursor
  }
  return out
}

export async function getVersioned<T>(path: string): Promise<Versioned<T>> {
  const r = await request<T>(path)
  return { item: r.data, etag: r.etag }
}

export async function create<T>(path: string, body: unknown): Promise<Versioned<T>> {
  const r = await request<T>(path, { method: 'POST', body })
  return { item: r.data, etag: r.etag }
}

// Writes a change against the version it was made from: a stale one is
// refused (409) instead of overwriting someone else's change.
export async function patch<T>(path: string, body: unknown, etag: string): Promise<Versioned<T>> {
  const r = await request<T>(path, { method: 'PATCH', body, ifMatch: etag })
  return { item: r.data, etag: r.etag }
}

export async function remove(path: string, etag?: string): Promise<void> {
  await request<void>(path, { method: 'DELETE', ifMatch: etag })
}

export const listApps = () => listAll<App>('/apps')
export const listChannels = () => listAll<Channel>('/channels')
export const listAccounts = () => listAll<Account>('/accounts')
export const listTemplates = () => listAll<Template>('/templates')
export const listRules = () => listAll<Rule>('/rules')
export const listUsers = () => listAll<User>('/users')
export const listAudit = (query: Record<string, QueryValue>) => get<Page<AuditRecord>>('/audit', query)

export const previewTemplate = (body: unknown) => post<TemplatePreview>('/templates/preview', body)
export const dryRunRules = (body: unknown) => post<DryRunResult>('/rules/dry-run', body)
export const testAccount = (id: number, receiver: string, params: Record<string, string>) =>
  post<{ task_id: string }>(`/accounts/${id}/test`, { receiver, template_params: params })
