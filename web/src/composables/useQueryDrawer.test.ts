import { describe, expect, it } from 'vitest'
import { filtersChanged } from './useQueryDrawer'

describe('filtersChanged', () => {
  it('ignores opening and closing a row', () => {
    expect(filtersChanged({ status: 'failed', open: 'a' }, { status: 'failed' })).toBe(false)
    expect(filtersChanged({ status: 'failed' }, { status: 'failed', open: 'a' })).toBe(false)
    expect(filtersChanged({ open: 'b' }, { open: 'a' })).toBe(false)
  })

  it('sees a changed, added or removed filter', () => {
    expect(filtersChanged({ status: 'failed' }, { status: 'success' })).toBe(true)
    expect(filtersChanged({ status: 'failed', app_id: 'shop' }, { status: 'failed' })).toBe(true)
    expect(filtersChanged({}, { status: 'failed', open: 'a' })).toBe(true)
  })

  it('loads the first time', () => {
    expect(filtersChanged({}, undefined)).toBe(true)
  })
})
