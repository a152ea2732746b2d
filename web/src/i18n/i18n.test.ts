import { describe, expect, it } from 'vitest'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import en from './locales/en'
import zhCN from './locales/zh-CN'

type Tree = { [k: string]: string | Tree }

function leaves(tree: Tree, prefix = ''): Map<string, string> {
  const out = new Map<string, string>()
  for (const [k, v] of Object.entries(tree)) {
    const key = prefix ? `${prefix}.${k}` : k
    if (typeof v === 'string') out.set(key, v)
    else for (const [kk, vv] of leaves(v, key)) out.set(kk, vv)
  }
  return out
}

function placeholders(s: string): string[] {
  return [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()
}

const enKeys = leaves(en as Tree)
const zhKeys = leaves(zhCN as Tree)

describe('translations', () => {
  it('has every key in both languages', () => {
    expect([...zhKeys.keys()].filter((k) => !enKeys.has(k))).toEqual([])
    expect([...enKeys.keys()].filter((k) => !zhKeys.has(k))).toEqual([])
  })

  it('has no empty value', () => {
    for (const [lang, keys] of [['en', enKeys], ['zh-CN', zhKeys]] as const) {
      const empty = [...keys].filter(([, v]) => v.trim() === '').map(([k]) => `${lang}:${k}`)
      expect(empty).toEqual([])
    }
  })

  it('uses the same placeholders in both languages', () => {
    for (const [k, v] of enKeys) {
      expect([k, placeholders(zhKeys.get(k) ?? '')]).toEqual([k, placeholders(v)])
    }
  })

  it('defines every key the source uses', () => {
    const src = join(dirname(fileURLToPath(import.meta.url)), '..')
    const files: string[] = []
    const walk = (d: string) => {
      for (const name of readdirSync(d)) {
        const p = join(d, name)
        if (statSync(p).isDirectory()) walk(p)
        else if (/\.(vue|ts)$/.test(name) && !name.endsWith('.test.ts')) files.push(p)
      }
    }
    walk(src)
    const used = new Set<string>()
    for (const f of files) {
      for (const m of readFileSync(f, 'utf8').matchAll(/\bt\('([a-zA-Z0-9_.]+)'/g)) used.add(m[1])
      for (const m of readFileSync(f, 'utf8').matchAll(/labelKey: '([a-zA-Z0-9_.]+)'/g)) used.add(m[1])
      for (const m of readFileSync(f, 'utf8').matchAll(/titleKey: '([a-zA-Z0-9_.]+)'/g)) used.add(m[1])
    }
    expect(used.size).toBeGreaterThan(100)
    expect([...used].filter((k) => !enKeys.has(k)).sort()).toEqual([])
  })

  it('covers the keys built at run time', () => {
    const dynamic = [
      ...['pending', 'scheduled', 'processing', 'sent', 'success', 'failed', 'cancelled'].map((s) => `status.${s}`),
      ...['closed', 'open', 'half_open'].map((s) => `breaker.${s}`),
      ...['running', 'paused', 'cancelled', 'done'].map((s) => `redrive.${s}`),
      ...['running', 'paused', 'cancelled', 'finished', 'legacy'].map((s) => `batches.statuses.${s}`),
      ...['pauseDone', 'resumeDone', 'cancelDone'].map((k) => `batches.${k}`),
      ...['retry', 'switch', 'fail', 'alert'].map((s) => `rules.actions.${s}`),
      ...['send_failure', 'callback_failure'].map((s) => `rules.scenes.${s}`),
      ...['viewer', 'operator', 'admin'].map((s) => `roles.${s}`),
    ]
    expect(dynamic.filter((k) => !enKeys.has(k))).toEqual([])
  })

  it('differs between the languages for a known label', () => {
    expect(enKeys.get('nav.messages')).toBe('Messages')
    expect(zhKeys.get('nav.messages')).toBe('消息')
  })
})
