import { beforeEach, describe, expect, it } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { emptyFilters, filterQueryString, filtersFromQuery, useMessageFilters } from './messageFilters'

describe('message filters', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it('leaves empty fields out', () => {
    expect(filterQueryString(emptyFilters())).toBe('')
  })

  it('builds the query string the list and export take', () => {
    const s = useMessageFilters()
    s.set({ app: ' demo-app ', channel: 1, status: ['failed', 'cancelled'], provider: 'sandbox', since: '2h', receiver: '+8613800138000' })
    expect(s.queryString).toBe('app=demo-app&channel=1&status=failed%2Ccancelled&provider=sandbox&since=2h&receiver=%2B8613800138000')
    expect(s.active).toBe(true)
    s.reset()
    expect(s.active).toBe(false)
  })

  it('reads filters back from a route query, ignoring junk', () => {
    const f = filtersFromQuery({ app: 'a', channel: 'x', status: 'failed,pending', account: '7', until: ['1h', '2h'] })
    expect(f).toEqual({ ...emptyFilters(), app: 'a', status: ['failed', 'pending'], account: 7, until: '1h' })
  })

  it('round-trips through the query', () => {
    const s = useMessageFilters()
    s.set({ channel: 3, status: ['success'], until: '2026-01-02T00:00:00.000Z' })
    const again = filtersFromQuery(Object.fromEntries(new URLSearchParams(s.queryString)))
    expect(again).toEqual(s.filters)
  })
})
