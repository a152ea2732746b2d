import { afterEach, describe, expect, it, vi } from 'vitest'
import { batchAction, forceBreaker, getBatch, listBatches, listBreakers, listQuotas, patch, listAll } from './endpoints'
import { ApiError } from './client'

function stub(handler: (url: string, init: RequestInit) => Response) {
  const calls: { url: string; init: RequestInit }[] = []
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      calls.push({ url: String(input), init: init ?? {} })
      return handler(String(input), init ?? {})
    }),
  )
  return calls
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } })

describe('admin endpoints', () => {
  afterEach(() => vi.unstubAllGlobals())

  it('reads breaker states', async () => {
    stub(() =>
      json(200, { items: [{ account_id: 3, account_name: 'sms-a', provider_kind: 'sandbox', state: 'open', since: '2026-01-01T00:00:00Z', failures: 5, forced: '' }] }),
    )
    const r = await listBreakers()
    expect(r.items[0].state).toBe('open')
  })

  it('reports a missing breaker route as a 404 the pages treat as not available', async () => {
    stub(() => json(404, { code: 'not_found', message: 'no such route' }))
    const err = await listBreakers().catch((e) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err.status).toBe(404)
    expect(err.message).toBe('no such route')
  })

  it('forces a breaker with the order and reason', async () => {
    const calls = stub(() => new Response(null, { status: 202 }))
    await forceBreaker(7, 'closed', 'provider fixed')
    expect(calls[0].url).toBe('/admin/api/v1/breakers/7/force')
    expect(calls[0].init.method).toBe('POST')
    expect(JSON.parse(String(calls[0].init.body))).toEqual({ order: 'closed', reason: 'provider fixed' })
  })

  it('asks for the quotas of one app or of all', async () => {
    const calls = stub(() => json(200, { items: [] }))
    await listQuotas('demo-app')
    await listQuotas()
    expect(calls.map((c) => c.url)).toEqual(['/admin/api/v1/quotas?app_id=demo-app', '/admin/api/v1/quotas'])
  })

  it('sends If-Match with a change and returns the new ETag', async () => {
    const calls = stub(() => json(200, { id: 1, version: 4 }, { ETag: '"4"' }))
    const r = await patch<{ id: number }>('/channels/1', { pool: [] }, '"3"')
    expect((calls[0].init.headers as Record<string, string>)['If-Match']).toBe('"3"')
    expect(r.etag).toBe('"4"')
  })

  it('shows the message of a stale write', async () => {
    stub(() => json(409, { code: 'conflict', message: 'channel 1 changed since version 3; reload it' }))
    await expect(patch('/channels/1', {}, '"3"')).rejects.toThrow('channel 1 changed since version 3; reload it')
  })

  it('lists batches with the filters and the cursor encoded, empty ones left out', async () => {
    const calls = stub(() => json(200, { items: [], next_cursor: '' }))
    await listBatches({ app_id: 'demo app', status: 'running', limit: 20, cursor: 'MjAyNi0w+/=' })
    await listBatches({ app_id: '', status: undefined, limit: 50, cursor: undefined })
    expect(calls.map((c) => c.url)).toEqual([
      '/admin/api/v1/batches?app_id=demo+app&status=running&limit=20&cursor=MjAyNi0w%2B%2F%3D',
      '/admin/api/v1/batches?limit=50',
    ])
    expect(calls[0].init.method).toBe('GET')
  })

  it('reads one batch with its counts', async () => {
    const id = '0b6f2a4e-3c1d-4e5f-8a9b-1c2d3e4f5a6b'
    const calls = stub(() =>
      json(200, { id, status: 'running', total_count: 3, success_count: 3, failed_count: 0, finished: 1, counts: { pending: 2, processing: 0, sent: 0, success: 1, failed: 0, cancelled: 0 } }),
    )
    const b = await getBatch(id)
    expect(calls[0].url).toBe(`/admin/api/v1/batches/${id}`)
    expect(calls[0].init.method).toBe('GET')
    expect(b.counts?.pending).toBe(2)
    expect(b.finished).toBe(1)
  })

  it('pauses, resumes and cancels a batch by POST without a body', async () => {
    const calls = stub(() => json(200, { id: 'b/1', status: 'paused' }))
    await batchAction('b/1', 'pause')
    await batchAction('b/1', 'resume')
    await batchAction('b/1', 'cancel')
    expect(calls.map((c) => [c.init.method, c.url])).toEqual([
      ['POST', '/admin/api/v1/batches/b%2F1/pause'],
      ['POST', '/admin/api/v1/batches/b%2F1/resume'],
      ['POST', '/admin/api/v1/batches/b%2F1/cancel'],
    ])
    expect(calls.every((c) => c.init.body === undefined)).toBe(true)
  })

  it('shows the message of a refused batch action', async () => {
    stub(() => json(409, { code: 'conflict', message: 'batch 1 is finished already' }))
    const err = await batchAction('1', 'cancel').catch((e) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err.status).toBe(409)
    expect(err.message).toBe('batch 1 is finished already')
  })

  it('follows cursors to the end of a list', async () => {
    const calls = stub((url) =>
      url.includes('cursor=c2') ? json(200, { items: [{ id: 3 }], next_cursor: '' }) : json(200, { items: [{ id: 1 }, { id: 2 }], next_cursor: 'c2' }),
    )
    const all = await listAll<{ id: number }>('/apps')
    expect(all.map((a) => a.id)).toEqual([1, 2, 3])
    expect(calls).toHaveLength(2)
  })
})
