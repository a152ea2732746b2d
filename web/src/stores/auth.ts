import { defineStore } from 'pinia'
import { ApiError, request, setAuthHooks } from '../api/client'
import type { Role, Session, SessionUser } from '../api/types'

// A sign-in ends after this long without a click, key press or scroll.
export const IDLE_TIMEOUT_MS = 30 * 60 * 1000
// The access token is renewed this long before it expires.
export const REFRESH_MARGIN_MS = 60 * 1000
// How often the idle check runs.
const IDLE_CHECK_MS = 15 * 1000

const ROLE_RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 }

export type SignOutReason = '' | 'idle' | 'expired' | 'manual'

interface AuthState {
  // The access token lives only in memory; the refresh token is an httpOnly
  // cookie the page never sees.
  token: string
  expiresAt: number
  user: SessionUser | null
  lastActivity: number
  signedOutReason: SignOutReason
  initialised: boolean
}

let refreshTimer: ReturnType<typeof setTimeout> | null = null
let idleTimer: ReturnType<typeof setInterval> | null = null
// Every refresh retires the refresh token it presents, and presenting a
// retired one ends the sign-in: concurrent callers share one request.
let refreshing: Promise<boolean> | null = null
let initialising: Promise<void> | null = null

export const useAuthStore = defineStore('auth', {
  state: (): AuthState => ({
    token: '',
    expiresAt: 0,
    user: null,
    lastActivity: Date.now(),
    signedOutReason: '',
    initialised: false,
  }),
  getters: {
    signedIn: (s) => s.token !== '' && s.user !== null,
    role: (s): Role | null => s.user?.role ?? null,
    canEdit: (s) => s.user !== null && ROLE_RANK[s.user.role] >= ROLE_RANK.operator,
    isAdmin: (s) => s.user?.role === 'admin',
  },
  actions: {
    hasRole(min: Role): boolean {
      return this.user !== null && ROLE_RANK[this.user.role] >= ROLE_RANK[min]
    },

    install(): void {
      setAuthHooks({
        token: () => this.token,
        refresh: () => this.refresh(),
        signedOut: () => this.clear('expired'),
      })
    },

    // Tries the refresh cookie once per page load, so a reload keeps the sign-in.
    init(): Promise<void> {
      if (this.initialised) return Promise.resolve()
      if (!initialising) {
        initialising = this.refresh()
          .then(() => undefined)
          .finally(() => {
            this.initialised = true
            initialising = null
          })
      }
      return initialising
    },

    accept(session: Session): void {
      this.token = session.access_token
      this.user = session.user
      this.expiresAt = Date.now() + session.expires_in * 1000
      this.signedOutReason = ''
      this.touch()
      this.schedule(session.expires_in * 1000)
    },

    async login(username: string, password: string): Promise<void> {
      const { data } = await request<Session>('/auth/login', {
        method: 'POST',
        body: { username, password, token_delivery: 'cookie' },
        anonymous: true,
      })
      this.accept(data)
      this.initialised = true
    },

    refresh(): Promise<boolean> {
      if (!refreshing) {
        refreshing = (async () => {
          try {
            const { data } = await request<Session>('/auth/refresh', { method: 'POST', anonymous: true })
            this.accept(data)
            return true
          } catch (err) {
            if (err instanceof ApiError && (err.status === 401 || err.status === 400)) {
              if (this.token) this.clear('expired')
              return false
            }
            // A network error: keep what we have, the next request will tell.
            return false
          } finally {
            refreshing = null
          }
        })()
      }
      return refreshing
    },

    schedule(lifetimeMs: number): void {
      if (refreshTimer) clearTimeout(refreshTimer)
      const wait = Math.max(5_000, lifetimeMs - REFRESH_MARGIN_MS)
      refreshTimer = setTimeout(() => {
        void this.refresh()
      }, wait)
      if (!idleTimer) {
        idleTimer = setInterval(() => this.checkIdle(Date.now()), IDLE_CHECK_MS)
      }
    },

    touch(now: number = Date.now()): void {
      this.lastActivity = now
    },

    // Signs out when nothing happened for IDLE_TIMEOUT_MS; true when it did.
    checkIdle(now: number): boolean {
      if (!this.token) return false
      if (now - this.lastActivity < IDLE_TIMEOUT_MS) return false
      void this.logout('idle')
      return true
    },

    clear(reason: SignOutReason): void {
      this.token = ''
      this.user = null
      this.expiresAt = 0
      this.signedOutReason = reason
      if (refreshTimer) clearTimeout(refreshTimer)
      if (idleTimer) clearInterval(idleTimer)
      refreshTimer = null
      idleTimer = null
    },

    async logout(reason: SignOutReason = 'manual'): Promise<void> {
      this.clear(reason)
      try {
        await request<void>('/auth/logout', { method: 'POST', anonymous: true })
      } catch {
        // The cookie is revoked server-side at worst when it expires.
      }
    },
  },
})
