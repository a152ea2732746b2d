import { defineStore } from 'pinia'
import type { QueryValue } from '../api/client'

export interface MessageFilters {
  app: string
  channel: number | null
  status: string[]
  provider: string
  account: number | null
  since: string
  until: string
  receiver: string
}

export function emptyFilters(): MessageFilters {
  return { app: '', channel: null, status: [], provider: '', account: null, since: '', until: '', receiver: '' }
}

// The filter as the list, export and re-drive routes take it: empty fields
// left out, statuses comma-joined, surrounding spaces trimmed.
export function filterQuery(f: MessageFilters): Record<string, string> {
  const q: Record<string, string> = {}
  if (f.app.trim()) q.app = f.app.trim()
  if (f.channel) q.channel = String(f.channel)
  if (f.status.length) q.status = f.status.join(',')
  if (f.provider.trim()) q.provider = f.provider.trim()
  if (f.account) q.account = String(f.account)
  if (f.since.trim()) q.since = f.since.trim()
  if (f.until.trim()) q.until = f.until.trim()
  if (f.receiver.trim()) q.receiver = f.receiver.trim()
  return q
}

export function filterQueryString(f: MessageFilters): string {
  return new URLSearchParams(filterQuery(f)).toString()
}

function positive(v: unknown): number | null {
  const n = Number(v)
  return Number.isInteger(n) && n > 0 ? n : null
}

function text(v: unknown): string {
  if (Array.isArray(v)) v = v[0]
  return typeof v === 'string' ? v : ''
}

// Reads filters back from a route's query, so a filtered list can be linked to.
export function filtersFromQuery(q: Record<string, unknown>): MessageFilters {
  const status = text(q.status)
  return {
    app: text(q.app),
    channel: positive(text(q.channel)),
    status: status ? status.split(',').filter((s) => s !== '') : [],
    provider: text(q.provider),
    account: positive(text(q.account)),
    since: text(q.since),
    until: text(q.until),
    receiver: text(q.receiver),
  }
}

export const useMessageFilters = defineStore('messageFilters', {
  state: () => ({ filters: emptyFilters() }),
  getters: {
    query: (s): Record<string, QueryValue> => filterQuery(s.filters),
    queryString: (s): string => filterQueryString(s.filters),
    active: (s): boolean => Object.keys(filterQuery(s.filters)).length > 0,
  },
  actions: {
    set(f: Partial<MessageFilters>): void {
      this.filters = { ...this.filters, ...f }
    },
    fromQuery(q: Record<string, unknown>): void {
      this.filters = filtersFromQuery(q)
    },
    reset(): void {
      this.filters = emptyFilters()
    },
  },
})
