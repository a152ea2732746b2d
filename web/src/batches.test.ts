import { describe, expect, it } from 'vitest'
import { batchActionAllowed, batchLive, batchPercent } from './batches'
import type { Batch, BatchCounts } from './api/types'

const counts = (c: Partial<BatchCounts> = {}): BatchCounts => ({ pending: 0, processing: 0, sent: 0, success: 0, failed: 0, cancelled: 0, ...c })

function batch(b: Partial<Batch> = {}): Batch {
  return {
    id: 'b1',
    app_id: 'demo-app',
    channel_id: 1,
    message_type: 'sms',
    status: 'running',
    total_count: 10,
    success_count: 8,
    failed_count: 2,
    counts: counts({ pending: 8 }),
    finished: 0,
    scheduled_at: null,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: null,
    finished_at: null,
    temporal_url: '',
    ...b,
  }
}

describe('batch progress', () => {
  it('counts final members against accepted ones', () => {
    expect(batchPercent(batch({ finished: 2, counts: counts({ success: 2, pending: 6 }) }))).toBe(25)
    expect(batchPercent(batch({ finished: 8 }))).toBe(100)
  })

  it('is nothing before any member is final', () => {
    expect(batchPercent(batch())).toBe(0)
  })

  it('is whole for an ended batch without members', () => {
    expect(batchPercent(batch({ success_count: 0, finished: 0, finished_at: '2026-01-01T00:01:00Z' }))).toBe(100)
    expect(batchPercent(batch({ success_count: 0, finished: 0 }))).toBe(0)
  })
})

describe('batch actions', () => {
  it('allows each action only where the workflow takes it', () => {
    const table = (['running', 'paused', 'cancelled', 'finished', 'legacy'] as const).map((s) => [
      s,
      batchActionAllowed(s, 'pause'),
      batchActionAllowed(s, 'resume'),
      batchActionAllowed(s, 'cancel'),
    ])
    expect(table).toEqual([
      ['running', true, false, true],
      ['paused', false, true, true],
      ['cancelled', false, false, false],
      ['finished', false, false, false],
      ['legacy', false, false, false],
    ])
  })
})

describe('batch refresh', () => {
  it('follows a batch while its members may still change', () => {
    expect(batchLive(batch())).toBe(true)
    expect(batchLive(batch({ status: 'paused', counts: counts({ processing: 3 }) }))).toBe(true)
    expect(batchLive(batch({ status: 'paused', counts: counts() }))).toBe(false)
    expect(batchLive(batch({ status: 'cancelled' }))).toBe(true)
    expect(batchLive(batch({ status: 'cancelled', finished_at: '2026-01-01T00:01:00Z', counts: counts() }))).toBe(false)
    expect(batchLive(batch({ status: 'finished', finished_at: '2026-01-01T00:01:00Z' }))).toBe(false)
    expect(batchLive(batch({ status: 'legacy' }))).toBe(false)
  })
})
