import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { formatBucket, formatDateTime, formatDuration, formatNumber, formatPercent, isFuture } from './format'
import { checkVariables, usedVariables } from './templateVars'
import { configFromForm, parseParams } from './providerFields'
import { queryString } from './api/client'

describe('formatDuration', () => {
  it.each([
    [null, '—'],
    [0, '0 ms'],
    [850, '850 ms'],
    [1234, '1.2 s'],
    [42_000, '42 s'],
    [185_000, '3m 05s'],
    [2 * 3600_000 + 3 * 60_000, '2h 03m'],
    [3 * 86400_000 + 4 * 3600_000, '3d 04h'],
  ])('%s → %s', (ms, want) => {
    expect(formatDuration(ms as number | null)).toBe(want)
  })
})

describe('formatPercent', () => {
  it('formats ratios', () => {
    expect(formatPercent(0.9876)).toBe('98.8%')
    expect(formatPercent(1)).toBe('100.0%')
    expect(formatPercent(0, 0)).toBe('0%')
    expect(formatPercent(null)).toBe('—')
  })
})

describe('dates in the local time zone', () => {
  let saved: string | undefined
  beforeEach(() => {
    saved = process.env.TZ
  })
  afterEach(() => {
    process.env.TZ = saved
  })

  it('shows UTC times in Asia/Shanghai', () => {
    process.env.TZ = 'Asia/Shanghai'
    expect(formatDateTime('2026-01-02T16:30:05Z')).toBe('2026-01-03 00:30:05')
    expect(formatBucket('2026-01-02T16:00:00Z', 'hour')).toBe('01-03 00:00')
    expect(formatBucket('2026-01-02T16:00:00Z', 'day')).toBe('01-03')
  })

  it('shows UTC times in America/New_York', () => {
    process.env.TZ = 'America/New_York'
    expect(formatDateTime('2026-07-01T03:00:00Z')).toBe('2026-06-30 23:00:00')
  })

  it('marks missing or bad times', () => {
    expect(formatDateTime(null)).toBe('—')
    expect(formatDateTime('not a time')).toBe('—')
  })

  it('tells future times', () => {
    const now = Date.parse('2026-01-01T00:00:00Z')
    expect(isFuture('2026-01-01T01:00:00Z', now)).toBe(true)
    expect(isFuture('2025-12-31T23:00:00Z', now)).toBe(false)
    expect(isFuture(null, now)).toBe(false)
  })
})

describe('other helpers', () => {
  it('formats numbers', () => {
    expect(formatNumber(1234567)).toBe('1,234,567')
    expect(formatNumber(undefined)).toBe('—')
  })

  it('finds template variables and checks them against the declared ones', () => {
    const used = usedVariables('Hi {{ name }}', 'Your code is {{code}}; {{name}} again')
    expect(used).toEqual(['name', 'code'])
    expect(checkVariables(['code', 'extra'], used)).toEqual({ undeclared: ['name'], unused: ['extra'] })
  })

  it('parses name=value lines', () => {
    expect(parseParams('code=123456\n\nbad line\n name = Ann = B ')).toEqual({ code: '123456', name: 'Ann = B' })
  })

  it('builds provider configs with typed values', () => {
    expect(configFromForm('aliyun', { access_key_id: 'id', access_key_secret: '', timeout_seconds: '5', region: null })).toEqual({
      access_key_id: 'id',
      timeout_seconds: 5,
    })
  })

  it('builds query strings without empty values', () => {
    expect(queryString({ a: '', b: undefined, c: 0, d: ['x', 'y'], e: [] })).toBe('?c=0&d=x%2Cy')
    expect(queryString({})).toBe('')
  })
})
