// The one way the console talks to Herald: the admin API on the same origin.
// Every error arrives as problem JSON; ApiError carries its message so pages
// can show it as is.

export const API_BASE = '/admin/api/v1'

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly field: string

  constructor(status: number, code: string, message: string, field = '') {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.field = field
  }
}

export interface AuthHooks {
  // The current access token, or '' when signed out.
  token(): string
  // Renews the access token; false when the sign-in is over.
  refresh(): Promise<boolean>
  // Called when a request is refused for want of a valid sign-in.
  signedOut(): void
}

let hooks: AuthHooks | null = null

export function setAuthHooks(h: AuthHooks | null): void {
  hooks = h
}

export type QueryValue = string | number | boolean | null | undefined | string[]

export interface RequestOptions {
  method?: string
  query?: Record<string, QueryValue>
  body?: unknown
  ifMatch?: string
  // Auth routes carry no bearer token and are never retried after a refresh.
  anonymous?: boolean
  signal?: AbortSignal
}

export interface Result<T> {
  data: T
  etag: string
  status: number
}

export function queryString(query: Record<string, QueryValue> | undefined): string {
  if (!query) return ''
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue
    if (Array.isArray(value)) {
      if (value.length > 0) params.set(key, value.join(','))
      continue
    }
    params.set(key, String(value))
  }
  const s = params.toString()
  return s ? `?${s}` : ''
}

export function apiURL(path: string, query?: Record<string, QueryValue>): string {
  return `${API_BASE}${path}${queryString(query)}`
}

async function problemOf(res: Response): Promise<ApiError> {
  let code = 'http_' + res.status
  let message = res.statusText || `HTTP ${res.status}`
  let field = ''
  try {
    const text = await res.text()
    if (text) {
      const body = JSON.parse(text) as { code?: string; message?: string; field?: string }
      if (body.code) code = body.code
      if (body.message) message = body.message
      if (body.field) field = body.field
    }
  } catch {
    // Not problem JSON (a proxy's page, say): keep the status line.
  }
  return new ApiError(res.status, code, message, field)
}

async function send(path: string, opts: RequestOptions): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json'
  if (opts.ifMatch) headers['If-Match'] = opts.ifMatch
  const token = opts.anonymous ? '' : (hooks?.token() ?? '')
  if (token) headers['Authorization'] = `Bearer ${token}`
  return fetch(apiURL(path, opts.query), {
    method: opts.method ?? 'GET',
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    credentials: 'same-origin',
    signal: opts.signal,
  })
}

export async function request<T>(path: string, opts: RequestOptions = {}): Promise<Result<T>> {
  let res = await send(path, opts)
  if (res.status === 401 && !opts.anonymous && hooks) {
    // The access token may have lapsed (a laptop asleep): renew once and retry.
    if (await hooks.refresh()) {
      res = await send(path, opts)
    }
    if (res.status === 401) {
      const err = await problemOf(res)
      hooks.signedOut()
      throw err
    }
  }
  if (!res.ok) throw await problemOf(res)
  const etag = res.headers.get('ETag') ?? ''
  if (res.status === 204) return { data: undefined as T, etag, status: res.status }
  const text = await res.text()
  const data = (text ? JSON.parse(text) : undefined) as T
  return { data, etag, status: res.status }
}

export async function get<T>(path: string, query?: Record<string, QueryValue>): Promise<T> {
  return (await request<T>(path, { query })).data
}

export async function post<T>(path: string, body?: unknown): Promise<T> {
  return (await request<T>(path, { method: 'POST', body })).data
}

// Fetches a file with the bearer token and hands it to the browser as a download.
export async function download(path: string, query: Record<string, QueryValue>, filename: string): Promise<void> {
  let res = await send(path, { query })
  if (res.status === 401 && hooks && (await hooks.refresh())) res = await send(path, { query })
  if (!res.ok) throw await problemOf(res)
  const blob = await res.blob()
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = filename
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}

export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message
  if (err instanceof Error) return err.message
  return String(err)
}
