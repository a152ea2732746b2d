import { describe, expect, it } from 'vitest'
import { useCursorPages } from './useCursorPages'

describe('useCursorPages', () => {
  it('goes forward by the next cursor and back by the one a page was loaded with', () => {
    const p = useCursorPages()
    expect(p.cursor()).toBeUndefined()
    expect(p.back()).toBe(false)
    expect(p.forward(undefined)).toBe(false)
    expect(p.forward('c2')).toBe(true)
    expect(p.forward('c3')).toBe(true)
    expect(p.pageIndex.value).toBe(2)
    expect(p.cursor()).toBe('c3')
    expect(p.back()).toBe(true)
    expect(p.cursor()).toBe('c2')
    // A different next page from here replaces the ones after it.
    expect(p.forward('c3b')).toBe(true)
    expect(p.cursor()).toBe('c3b')
    p.first()
    expect(p.pageIndex.value).toBe(0)
    expect(p.cursor()).toBeUndefined()
  })
})
