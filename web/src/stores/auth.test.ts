import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { IDLE_TIMEOUT_MS, REFRESH_MARGIN_MS, useAuthStore } from './auth'
import { setAuthHooks, request } from '../api/client'

interface Call {
  url: string
  method: string
  headers: Record<string, string>
  body: unknown
}

function session(token: string, expiresIn = 900) {
  return { access_token: token, token_type: 'Bearer', expires_in: expiresIn, user: { id: 1, username: 'ops', role: 'operator' } }
}

function json(status: number, body: unknown): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  })
}

// A fake admin API: answers by route, recording every call.
function fakeServer(routes: Record<string, (c: Call) => Response>) {
  const calls: Call[] = []
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input)
    const c: Call = {
      url,
      method: init?.method ?? 'GET',
      headers: (init?.headers ?? {}) as Record<string, string>,
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
    }
    calls.push(c)
    const path = url.replace('/admin/api/v1', '').split('?')[0]
    const h = routes[`${c.method} ${path}`]
    if (!h) return json(404, { code: 'not_found', message: `no route ${c.method} ${path}` })
    return h(c)
  })
  vi.stubGlobal('fetch', fetchMock)
  return calls
}

describe('auth store', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    vi.useFakeTimers()
  })
  afterEach(() => {
    const auth = useAuthStore()
    auth.clear('')
    setAuthHooks(null)
    vi.useRealTimers()
    vi.unstubAllGlobals()
  })

  it('logs in with cookie delivery and keeps the token in memory', async () => {
    const calls = fakeServer({ 'POST /auth/login': () => json(200, session('tok-1')) })
    const auth = useAuthStore()
    await auth.login('ops', 'secret-password')
    expect(calls[0].body).toEqual({ username: 'ops', password: 'secret-password', token_delivery: 'cookie' })
    expect(auth.token).toBe('tok-1')
    expect(auth.signedIn).toBe(true)
    expect(auth.canEdit).toBe(true)
    expect(auth.isAdmin).toBe(false)
    expect(localStorage.length).toBe(0)
  })

  it('shows the problem message of a refused login', async () => {
    fakeServer({ 'POST /auth/login': () => json(401, { code: 'unauthorized', message: 'wrong username or password' }) })
    const auth = useAuthStore()
    await expect(auth.login('ops', 'nope')).rejects.toThrow('wrong username or password')
    expect(auth.signedIn).toBe(false)
  })

  it('refreshes before the access token expires', async () => {
    let n = 0
    const calls = fakeServer({
      'POST /auth/login': () => json(200, session('tok-1', 120)),
      'POST /auth/refresh': () => json(200, session(`tok-r${++n}`, 120)),
    })
    const auth = useAuthStore()
    await auth.login('ops', 'pw')
    await vi.advanceTimersByTimeAsync(120_000 - REFRESH_MARGIN_MS - 1000)
    expect(calls.filter((c) => c.url.endsWith('/auth/refresh'))).toHaveLength(0)
    await vi.advanceTimersByTimeAsync(2000)
    expect(calls.filter((c) => c.url.endsWith('/auth/refresh'))).toHaveLength(1)
    expect(auth.token).toBe('tok-r1')
  })

  it('restores the sign-in from the refresh cookie on page load', async () => {
    fakeServer({ 'POST /auth/refresh': () => json(200, session('tok-cookie')) })
    const auth = useAuthStore()
    await auth.init()
    expect(auth.token).toBe('tok-cookie')
    expect(auth.initialised).toBe(true)
  })

  it('stays signed out when there is no refresh cookie', async () => {
    fakeServer({ 'POST /auth/refresh': () => json(401, { code: 'unauthorized', message: 'no refresh token' }) })
    const auth = useAuthStore()
    await auth.init()
    expect(auth.signedIn).toBe(false)
    expect(auth.initialised).toBe(true)
  })

  it('shares one refresh between concurrent callers', async () => {
    const calls = fakeServer({ 'POST /auth/refresh': () => json(200, session('tok-2')) })
    const auth = useAuthStore()
    const results = await Promise.all([auth.refresh(), auth.refresh(), auth.refresh()])
    expect(results).toEqual([true, true, true])
    expect(calls).toHaveLength(1)
  })

  it('renews a lapsed token once and retries the request', async () => {
    let refreshed = false
    const calls = fakeServer({
      'POST /auth/login': () => json(200, session('old')),
      'POST /auth/refresh': () => {
        refreshed = true
        return json(200, session('new'))
      },
      'GET /me': (c) => (c.headers.Authorization === 'Bearer new' ? json(200, { id: 1 }) : json(401, { code: 'unauthorized', message: 'expired' })),
    })
    const auth = useAuthStore()
    auth.install()
    await auth.login('ops', 'pw')
    const r = await request<{ id: number }>('/me')
    expect(refreshed).toBe(true)
    expect(r.data.id).toBe(1)
    expect(calls.map((c) => c.url.replace('/admin/api/v1', ''))).toEqual(['/auth/login', '/me', '/auth/refresh', '/me'])
  })

  it('signs out after the idle timeout, not before', async () => {
    const calls = fakeServer({
      'POST /auth/login': () => json(200, session('tok', 3600)),
      'POST /auth/refresh': () => json(200, session('tok', 3600)),
      'POST /auth/logout': () => new Response(null, { status: 204 }),
    })
    const auth = useAuthStore()
    await auth.login('ops', 'pw')
    const start = auth.lastActivity
    expect(auth.checkIdle(start + IDLE_TIMEOUT_MS - 1)).toBe(false)
    expect(auth.signedIn).toBe(true)
    auth.touch(start + 10 * 60 * 1000)
    expect(auth.checkIdle(start + IDLE_TIMEOUT_MS + 1)).toBe(false)
    expect(auth.checkIdle(start + 10 * 60 * 1000 + IDLE_TIMEOUT_MS)).toBe(true)
    expect(auth.signedIn).toBe(false)
    expect(auth.signedOutReason).toBe('idle')
    await vi.runOnlyPendingTimersAsync()
    expect(calls.some((c) => c.url.endsWith('/auth/logout'))).toBe(true)
  })

  it('runs the idle check on a timer', async () => {
    fakeServer({
      'POST /auth/login': () => json(200, session('tok', 24 * 3600)),
      'POST /auth/refresh': () => json(200, session('tok', 24 * 3600)),
      'POST /auth/logout': () => new Response(null, { status: 204 }),
    })
    const auth = useAuthStore()
    await auth.login('ops', 'pw')
    await vi.advanceTimersByTimeAsync(IDLE_TIMEOUT_MS + 20_000)
    expect(auth.signedIn).toBe(false)
    expect(auth.signedOutReason).toBe('idle')
  })

  it('ranks roles', async () => {
    fakeServer({ 'POST /auth/login': () => json(200, { ...session('t'), user: { id: 2, username: 'v', role: 'viewer' } }) })
    const auth = useAuthStore()
    await auth.login('v', 'pw')
    expect(auth.hasRole('viewer')).toBe(true)
    expect(auth.hasRole('operator')).toBe(false)
    expect(auth.canEdit).toBe(false)
  })
})
