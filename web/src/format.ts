// Formatting shared by every page. Times are shown in the browser's time zone.

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0')
}

// 850 ms, 1.2 s, 3m 05s, 2h 03m, 3d 04h.
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—'
  if (ms < 0) ms = 0
  if (ms < 1000) return `${Math.round(ms)} ms`
  const seconds = ms / 1000
  if (seconds < 60) {
    const s = seconds < 10 ? Math.round(seconds * 10) / 10 : Math.round(seconds)
    return `${s} s`
  }
  const total = Math.round(seconds)
  const d = Math.floor(total / 86400)
  const h = Math.floor((total % 86400) / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = total % 60
  if (d > 0) return `${d}d ${pad(h)}h`
  if (h > 0) return `${h}h ${pad(m)}m`
  return `${m}m ${pad(s)}s`
}

// A ratio in [0, 1] as a percentage: 0.9876 → "98.8%"; null → "—".
export function formatPercent(ratio: number | null | undefined, digits = 1): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return '—'
  return `${(ratio * 100).toFixed(digits)}%`
}

function toDate(v: string | number | Date | null | undefined): Date | null {
  if (v === null || v === undefined || v === '') return null
  const d = v instanceof Date ? v : new Date(v)
  return Number.isNaN(d.getTime()) ? null : d
}

// An RFC 3339 time in local time: 2026-01-03 00:30:00.
export function formatDateTime(v: string | number | Date | null | undefined): string {
  const d = toDate(v)
  if (!d) return '—'
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

// The short label of a chart's time axis: "01-03 00:00" for hours, "01-03" for days.
export function formatBucket(v: string, interval: 'minute' | 'hour' | 'day'): string {
  const d = toDate(v)
  if (!d) return v
  const day = `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`
  if (interval === 'day') return day
  return `${day} ${pad(d.getHours())}:${pad(d.getMinutes())}`
}

export function formatNumber(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—'
  return n.toLocaleString('en-US')
}

// Local midnight of the day `v` falls in.
export function startOfLocalDay(v: Date): Date {
  return new Date(v.getFullYear(), v.getMonth(), v.getDate())
}

// The browser's IANA time zone, so stats buckets align with local days.
export function localTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'
  } catch {
    return 'UTC'
  }
}

export function isFuture(v: string | null | undefined, now: number = Date.now()): boolean {
  const d = toDate(v)
  return d !== null && d.getTime() > now
}
